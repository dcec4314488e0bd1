"""The training data and the held-out sets: sizes, labels, and no leakage between them."""

from __future__ import annotations

import json

import pytest
import yaml

from bot.types import INTENTS, SENSITIVE_INTENTS
from nlu.normalize import matching_form
from nlu.service import NLU_DIR

SMALL_TALK = {"greeting", "goodbye", "thanks"}
EVAL_SETS = ["dev_messages.jsonl", "test_messages.jsonl"]


def training_examples() -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for path in sorted((NLU_DIR / "data" / "intents").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            lines = block["examples"].splitlines()
            examples.setdefault(block["intent"], []).extend(
                line.strip()[2:] for line in lines if line.strip().startswith("- ")
            )
    return examples


def eval_rows(name: str) -> list[dict[str, object]]:
    path = NLU_DIR / "eval" / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_every_intent_has_enough_examples() -> None:
    examples = training_examples()
    assert set(examples) == set(INTENTS)
    for intent, texts in examples.items():
        minimum = 25 if intent in SMALL_TALK else 80
        assert len(texts) >= minimum, intent
        assert len(set(texts)) == len(texts), f"duplicates in {intent}"


@pytest.mark.parametrize("name", EVAL_SETS)
def test_held_out_sets_are_valid_and_large_enough(name: str) -> None:
    rows = eval_rows(name)
    assert len(rows) >= 300
    escalating = {*SENSITIVE_INTENTS, "human_request"}
    for row in rows:
        assert set(row) == {"text", "intent", "escalate"}
        assert row["intent"] in INTENTS
        assert row["escalate"] == (row["intent"] in escalating)


@pytest.mark.parametrize("name", EVAL_SETS)
def test_no_held_out_text_is_in_the_training_data(name: str) -> None:
    trained = {matching_form(t) for texts in training_examples().values() for t in texts}
    # Compared after normalisation, so ｺﾝﾆﾁﾊ and こんにちは count as the same message.
    assert [r["text"] for r in eval_rows(name) if matching_form(str(r["text"])) in trained] == []
