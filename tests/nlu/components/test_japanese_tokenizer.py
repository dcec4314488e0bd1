"""The custom Rasa tokenizer, run inside the Rasa venv against real Rasa classes."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.components.japanese_tokenizer import JapaneseTokenizer


def make(tmp_path, **overrides):  # type: ignore[no-untyped-def]
    config = {**JapaneseTokenizer.get_default_config(), **overrides}
    return JapaneseTokenizer.create(
        config,
        LocalModelStorage(tmp_path),
        Resource("tokenizer"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def tokens(tokenizer: JapaneseTokenizer, text: str) -> list:  # type: ignore[type-arg]
    [message] = tokenizer.process([Message(data={TEXT: text})])
    return message.get(TOKENS_NAMES[TEXT])


def test_segments_japanese(tmp_path) -> None:  # type: ignore[no-untyped-def]
    words = [t.text for t in tokens(make(tmp_path), "夫に殴られています")]
    assert words[0] == "夫"
    assert "殴ら" in words


def test_hiragana_only_input_shares_readings_with_kanji(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tokenizer = make(tmp_path)
    kanji = {t.lemma for t in tokens(tokenizer, "夫に殴られた")}
    kana = {t.lemma for t in tokens(tokenizer, "おっとになぐられた")}
    assert {"おっと", "なぐら"} <= kanji & kana


def test_half_width_katakana_and_stretched_vowels_are_normalised(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tokenizer = make(tmp_path)
    assert "".join(t.text for t in tokens(tokenizer, "ｽﾏﾎ")) == "スマホ"
    assert "".join(t.text for t in tokens(tokenizer, "しにたーーーい")) == "しにたい"


def test_english_keeps_its_spelling(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lemmas = [t.lemma for t in tokens(make(tmp_path), "I want to die")]
    assert "die" in lemmas


def test_training_data_is_tokenized(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = TrainingData(
        [Message(data={TEXT: "架空請求のハガキが来た", "intent": "consumer_trouble"})]
    )
    make(tmp_path).process_training_data(data)
    assert [t.text for t in data.training_examples[0].get(TOKENS_NAMES[TEXT])]


def test_bad_config_is_rejected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="lemma_form"):
        make(tmp_path, lemma_form="nonsense")
    with pytest.raises(ValueError, match="split_mode"):
        make(tmp_path, split_mode="Z")


def test_declares_its_requirements() -> None:
    assert "sudachipy" in JapaneseTokenizer.required_packages()
    assert JapaneseTokenizer.supported_languages() == ["ja"]
