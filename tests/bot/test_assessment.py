"""The assessment combines NLU and lexicon; the lexicon can only raise, never lower."""

from __future__ import annotations

from bot.safety.assessment import SafetyAssessor
from bot.safety.lexicon import CrisisLexicon
from bot.types import IntentScore, NluResult, SafetyCategory, Urgency


def nlu(intent: str, confidence: float = 0.9, *ranking: tuple[str, float]) -> NluResult:
    scores = tuple(IntentScore(n, c) for n, c in ranking) or (IntentScore(intent, confidence),)
    return NluResult(intent, confidence, scores)


def test_classifier_cannot_lower_a_lexicon_emergency(lexicon: CrisisLexicon) -> None:
    verdict = SafetyAssessor(lexicon).assess("薬ためてる", nlu("greeting", 0.99))
    assert verdict.escalate
    assert verdict.urgency is Urgency.EMERGENCY
    assert verdict.intent == "suicide_risk"
    assert any(r.startswith("lexicon:") for r in verdict.reasons)


def test_sensitive_intent_escalates_without_lexicon(lexicon: CrisisLexicon) -> None:
    verdict = SafetyAssessor(lexicon).assess("なんだかもうだめかも", nlu("suicide_risk", 0.7))
    assert verdict.escalate and verdict.urgency is Urgency.HIGH
    assert verdict.categories == (SafetyCategory.SUICIDE,)
    assert "intent:suicide_risk" in verdict.reasons


def test_sensitive_intent_below_top_still_escalates(lexicon: CrisisLexicon) -> None:
    result = nlu("out_of_scope", 0.5, ("out_of_scope", 0.5), ("dv", 0.3))
    verdict = SafetyAssessor(lexicon).assess("ちょっと聞いてほしい", result)
    assert verdict.escalate
    assert verdict.intent == "out_of_scope"
    assert "ranking:dv" in verdict.reasons


def test_weak_sensitive_score_below_floor_does_not_escalate(lexicon: CrisisLexicon) -> None:
    result = nlu("smartphone_help", 0.9, ("smartphone_help", 0.9), ("dv", 0.05))
    assert not SafetyAssessor(lexicon).assess("写真の送り方", result).escalate


def test_human_request_escalates_with_normal_urgency(lexicon: CrisisLexicon) -> None:
    verdict = SafetyAssessor(lexicon).assess("人と話したい", nlu("human_request"))
    assert verdict.escalate and verdict.urgency is Urgency.NORMAL and verdict.categories == ()


def test_nlu_down_lexicon_decides_alone(lexicon: CrisisLexicon) -> None:
    assessor = SafetyAssessor(lexicon)
    crisis = assessor.assess("死にたい", NluResult.unavailable())
    assert crisis.escalate and not crisis.nlu_available and "nlu:unavailable" in crisis.reasons
    calm = assessor.assess("こんにちは", NluResult.unavailable())
    assert not calm.escalate and calm.intent == "out_of_scope"


def test_confusable_with_confident_nlu_is_not_escalated(lexicon: CrisisLexicon) -> None:
    verdict = SafetyAssessor(lexicon).assess("お腹すいて死にそう", nlu("out_of_scope", 0.95))
    assert not verdict.escalate
