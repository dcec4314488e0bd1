"""Requests for a person written into a sentence: heard even when the classifier files them
elsewhere, and never invented from talk that merely mentions people."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ContentError
from bot.policy import Action, ConversationState, decide
from bot.safety.assessment import PERSON_REQUEST_REASON, SafetyAssessor
from bot.safety.lexicon import CrisisLexicon
from bot.safety.person_request import PersonRequests
from bot.types import IntentScore, NluResult, Urgency


@pytest.fixture(scope="module")
def requests() -> PersonRequests:
    return PersonRequests.load()


@pytest.mark.parametrize(
    "text",
    [
        "That's a lot to take in. Is there a real person I could talk to about this?",
        "please put me through to a counselor",
        "Can I speak with a human?",
        "相談員さんと直接話したいです",
        "ロボットじゃなくて、人間と話せますか",
        "担当の方に代わってください",
        "人につないでほしいです",
        "はい、だれかに てつだって ほしいです",
        "うん、誰かに教えてほしいです",
        # The way of talking named in between (simple Japanese).
        "だれか ひと と チャット で はなしたい",
        "相談員さんと電話で話したいです",
    ],
)
def test_requests_worded_freely_are_heard(requests: PersonRequests, text: str) -> None:
    assert requests.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "I talked to my husband about the contract",
        "my son said he will speak to the shop",
        "人と話すのが苦手です",
        "人と話したくない",
        "話したいことがあるけど、うまく書けない",
        "このチャットは誰が読むの？",
        "誰かに手伝ってもらったらできた",
        "誰かに教えてもらったら、すぐできた",
    ],
)
def test_mentions_of_people_are_not_requests(requests: PersonRequests, text: str) -> None:
    assert not requests.asks_for_person(text)


def test_a_request_the_classifier_filed_elsewhere_hands_off(
    requests: PersonRequests, lexicon: CrisisLexicon
) -> None:
    assessor = SafetyAssessor(lexicon, person_requests=requests)
    nlu = NluResult("consumer_trouble", 0.99, (IntentScore("consumer_trouble", 0.99),))
    text = "Thanks, but this is a lot. Is there an actual human I can chat with about it?"
    assessment = assessor.assess(text, nlu)
    assert assessment.escalate and assessment.urgency is Urgency.NORMAL
    assert PERSON_REQUEST_REASON in assessment.reasons and assessment.categories == ()
    decision = decide(ConversationState(owner="bot"), assessment)
    assert decision.action is Action.HANDOFF and decision.enqueue
    # With NLU down the pattern still hears it.
    assert assessor.assess(text, NluResult.unavailable()).escalate


def test_loader_rejects_a_bad_regex(tmp_path: Path) -> None:
    path = tmp_path / "person_requests.yml"
    path.write_text("version: 1\npatterns:\n  - '(unclosed'\n", encoding="utf-8")
    with pytest.raises(ContentError, match="pattern 1"):
        PersonRequests.load(path)
