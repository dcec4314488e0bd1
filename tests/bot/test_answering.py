"""Answer selection without a database: guides, FAQ hits and honest misses, safety first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.answering import Answer, Answerer
from bot.flows.controls import default_controls
from bot.flows.state import FlowState
from bot.policy import Action, ConversationState, decide
from bot.responses import Responses
from bot.types import Assessment, SafetyCategory, Urgency
from tests.bot.fake_knowledge import FakeKnowledge

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SOON = T0 + timedelta(minutes=1)


def assessment(
    intent: str = "out_of_scope",
    confidence: float = 0.9,
    *,
    escalate: bool = False,
    urgency: Urgency = Urgency.NORMAL,
    categories: tuple[SafetyCategory, ...] = (),
    available: bool = True,
) -> Assessment:
    return Assessment(
        intent=intent,
        confidence=confidence,
        escalate=escalate,
        urgency=urgency,
        categories=categories,
        reasons=(),
        nlu_available=available,
    )


CRISIS = assessment(
    "suicide_risk",
    0.9,
    escalate=True,
    urgency=Urgency.EMERGENCY,
    categories=(SafetyCategory.SUICIDE,),
)
HUMAN = assessment("human_request", 0.95, escalate=True)


class Bot:
    """Plays messages through the Answerer, carrying the stored flow state like the engine."""

    def __init__(self, responses: Responses, knowledge: FakeKnowledge | None) -> None:
        self.answerer = Answerer(responses, knowledge, default_controls())
        self.flow: str | None = None
        self.now = T0

    def say(
        self,
        text: str,
        a: Assessment | None = None,
        *,
        language: str = "ja",
        sensitive: bool = False,
    ) -> Answer:
        a = self.answerer.in_context(a or assessment(), text, self.flow, self.now)
        decision = decide(ConversationState(sensitive=sensitive), a)
        answer = self.answerer.respond(decision, a, text, language, self.flow, self.now)
        self.flow = answer.flow_state
        self.now += timedelta(seconds=30)
        return answer

    @property
    def state(self) -> FlowState | None:
        return FlowState.from_json(self.flow)


@pytest.fixture
def kb() -> FakeKnowledge:
    return FakeKnowledge()


@pytest.fixture
def bot(responses: Responses, kb: FakeKnowledge) -> Bot:
    return Bot(responses, kb)


def text_of(answer: Answer) -> str:
    assert answer.replies is not None
    return "\n".join(r.text for r in answer.replies)


def test_confident_faq_hit_is_answered_with_the_person_button(bot: Bot, kb: FakeKnowledge) -> None:
    answer = bot.say("クーリングオフしたい", assessment("consumer_trouble", 0.9))
    assert answer.replies is not None
    [reply] = answer.replies
    assert reply.text == kb.faqs["consumer.cooling_off"].answer["ja"]
    assert reply.quick_replies == ("人と話す",)
    assert answer.decision.action is Action.ANSWER and answer.flow_state is None
    # The NLU intent is the search prior.
    assert kb.searches[-1] == ("クーリングオフしたい", "consumer_trouble", "ja")


def test_unsure_nlu_searches_without_a_prior(bot: Bot, kb: FakeKnowledge) -> None:
    bot.say("ごみの日", assessment("consumer_trouble", 0.3))
    assert kb.searches[-1][1] is None
    bot.say("ごみの日", assessment(available=False, confidence=0.0))
    assert kb.searches[-1][1] is None


def test_unconfident_search_says_so_honestly(bot: Bot, responses: Responses) -> None:
    answer = bot.say("宇宙の果てはどこ", assessment("out_of_scope", 0.9))
    assert text_of(answer) == responses.text("ja", "kb_not_found")
    assert answer.replies is not None and answer.replies[0].quick_replies == ("人と話す",)
    consumer = bot.say("業者と揉めている", assessment("consumer_trouble", 0.9))
    assert "188" in text_of(consumer)
    assert text_of(consumer) == responses.text("ja", "kb_not_found_consumer_trouble")


def test_english_faq_and_japanese_only_faq(bot: Bot, kb: FakeKnowledge) -> None:
    en = bot.say("cooling off", language="en")
    assert text_of(en) == kb.faqs["consumer.cooling_off"].answer["en"]
    ja_only = bot.say("garbage day", language="en")
    text = text_of(ja_only)
    assert "Japanese" in text and kb.faqs["local.garbage"].answer["ja"] in text
    assert en.replies is not None and en.replies[0].quick_replies == ("Talk to a person",)


def test_small_talk_keeps_its_templates(bot: Bot, kb: FakeKnowledge) -> None:
    answer = bot.say("こんにちは", assessment("greeting", 0.95))
    assert answer.replies is None and not kb.searches  # the engine renders the template


def test_without_a_knowledge_base_the_intent_templates_answer(responses: Responses) -> None:
    bot = Bot(responses, None)
    answer = bot.say("LINEで写真を送りたい", assessment("smartphone_help", 0.9))
    assert answer.replies is None and answer.flow_state is None


def test_guide_hit_asks_the_platform_first(bot: Bot) -> None:
    answer = bot.say("LINEで写真を送りたい", assessment("smartphone_help", 0.9))
    assert answer.replies is not None
    [reply] = answer.replies
    assert "ガイドline.send_photo" in reply.text and "iPhone" in reply.text
    assert reply.quick_replies == ("iPhone", "Android", "わからない", "やめる")
    assert reply.card is None
    assert bot.state is not None and bot.state.phase == "platform"


def test_a_whole_guide_one_step_per_message(bot: Bot) -> None:
    bot.say("LINEで写真を送りたい", assessment("smartphone_help", 0.9))
    first = bot.say("アイフォンです")
    assert first.replies is not None
    [reply] = first.replies
    assert "Iステップ1の せつめい" in reply.text and "1 / 3" in reply.text
    assert reply.card is not None
    assert (reply.card.title, reply.card.step_no, reply.card.step_total) == (
        "ガイドline.send_photo",
        1,
        3,
    )
    assert reply.quick_replies == ("できた", "わからない", "もう一回", "前へ", "最初から", "やめる")
    assert "Iステップ2" in text_of(bot.say("でけた"))
    assert "Iステップ3" in text_of(bot.say("OK"))
    done = bot.say("できました！")
    assert bot.state is None and "おわりです" in text_of(done)


def test_simpler_text_then_a_person_offered(bot: Bot) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    first = bot.say("わからん")
    assert "ステップ1を もっと やさしく" in text_of(first)
    assert first.replies is not None and "人と話す" not in first.replies[0].quick_replies
    second = bot.say("わがんね")
    assert "ステップ1を もっと やさしく" in text_of(second) and "人と話す" in text_of(second)
    assert second.replies is not None and second.replies[0].quick_replies[0] == "人と話す"
    assert second.decision.action is Action.ANSWER  # offered, not forced


def test_person_button_in_a_guide_hands_off_to_digital_help(bot: Bot) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    # The NLU recognises the button text as a request for a person.
    answer = bot.say("人と話す", HUMAN)
    assert answer.decision.action is Action.HANDOFF and answer.decision.enqueue
    assert answer.decision.urgency is Urgency.NORMAL
    assert answer.pool == "digital" and answer.flow_state is None
    assert answer.replies is None  # the engine renders the human_request text


def test_person_button_works_when_the_nlu_misses_it(bot: Bot, responses: Responses) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    answer = bot.say("人と話す", assessment("out_of_scope", 0.4))
    assert answer.decision.action is Action.HANDOFF and answer.decision.enqueue
    assert answer.pool == "digital"
    outside = Bot(responses, None).say("人と話す", assessment(available=False))
    assert outside.decision.action is Action.HANDOFF and outside.pool is None


def test_control_word_the_nlu_took_for_a_human_request_stays_in_the_guide(bot: Bot) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    answer = bot.say("わからない", HUMAN)
    assert answer.decision.action is Action.ANSWER and not answer.decision.enqueue
    assert "もっと やさしく" in text_of(answer)


def test_crisis_mid_guide_is_left_to_the_safety_path_and_ends_the_guide(bot: Bot) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    assert bot.flow is not None
    answer = bot.say("もう終わりにしたい", CRISIS)
    assert answer.decision.action is Action.SAFETY and answer.decision.enqueue
    assert answer.replies is None and answer.flow_state is None and answer.pool is None


def test_stop_word_the_classifier_heard_as_despair_stops_with_a_check_in(
    bot: Bot, responses: Responses
) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    answer = bot.say("もういい", CRISIS)
    assert answer.decision.action is Action.ANSWER and bot.state is None
    assert text_of(answer) == "\n".join(
        [responses.text("ja", "flow_stopped"), responses.text("ja", "flow_checkin")]
    )
    assert answer.replies is not None and answer.replies[0].quick_replies == ("人と話す",)
    # A plain stop gets no check-in.
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    assert text_of(bot.say("やめる")) == responses.text("ja", "flow_stopped")


def test_stop_words_a_step_from_a_crisis_phrase_still_escalate(bot: Bot) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    answer = bot.say("やめたい", CRISIS)
    assert answer.decision.action is Action.SAFETY and answer.flow_state is None


def test_sensitive_conversation_gets_no_faq(bot: Bot, kb: FakeKnowledge) -> None:
    answer = bot.say("クーリングオフ", assessment("consumer_trouble", 0.9), sensitive=True)
    assert answer.decision.action is Action.SENSITIVE_FOLLOWUP and answer.replies is None
    assert not kb.searches


def test_resume_after_a_pause(bot: Bot, responses: Responses) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    bot.say("できた")
    bot.now += timedelta(minutes=30)
    question = bot.say("できた")
    assert "つづきから" in text_of(question)
    assert question.replies is not None
    assert question.replies[0].quick_replies == ("はい", "さいしょから", "やめる")
    assert bot.state is not None and bot.state.step == 1  # the step did not move
    again = bot.say("はい")
    assert "ステップ2の せつめい" in text_of(again)
    bot.now += timedelta(minutes=30)
    bot.say("もう一回")
    restart = bot.say("さいしょから")
    assert "ステップ1の せつめい" in text_of(restart)
    bot.now += timedelta(minutes=30)
    bot.say("OK")
    stop = bot.say("やめる")
    assert text_of(stop) == responses.text("ja", "flow_stopped") and bot.state is None


def test_new_question_after_a_pause_is_answered_and_the_guide_waits(
    bot: Bot, kb: FakeKnowledge
) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    kept = bot.flow
    bot.now += timedelta(minutes=30)
    answer = bot.say("クーリングオフについて", assessment("consumer_trouble", 0.9))
    assert text_of(answer) == kb.faqs["consumer.cooling_off"].answer["ja"]
    assert bot.flow == kept
    assert "つづきから" in text_of(bot.say("できた"))


def test_expired_guide_is_dropped_with_a_kind_note(bot: Bot, responses: Responses) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    bot.now += timedelta(hours=25)
    answer = bot.say("できた")
    assert text_of(answer) == responses.text("ja", "flow_expired") and bot.state is None
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    bot.now += timedelta(hours=25)
    fresh = bot.say("クーリングオフ", assessment("consumer_trouble", 0.9))
    assert "クーリング・オフ" in text_of(fresh) and bot.flow is None


def test_another_guide_requested_mid_guide_replaces_it(bot: Bot) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    answer = bot.say("LINEで写真を送りたい", assessment("smartphone_help", 0.9))
    assert "ガイドline.send_photo" in text_of(answer)
    assert bot.state is not None and bot.state.guide_id == "line.send_photo"


def test_unreadable_answer_in_a_guide_shows_the_buttons_and_counts(bot: Bot) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    first = bot.say("画面が暗くなった")
    assert "ボタン" in text_of(first) and "ステップ1" in text_of(first)
    second = bot.say("どうすれば")
    assert "人と話す" in text_of(second)


def test_english_guide_stays_english_and_japanese_ok_does_not_switch(
    bot: Bot, responses: Responses
) -> None:
    bot.say("make the font bigger", assessment("smartphone_help", 0.9), language="en")
    step2 = bot.say("OK", language="en")
    assert "step 2 text" in text_of(step2)
    assert step2.replies is not None and step2.replies[0].quick_replies[0] == "Done"
    ja = Bot(responses, FakeKnowledge())
    ja.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    assert "ステップ2" in text_of(ja.say("OK", language="en"))


def test_guide_removed_from_the_knowledge_base_starts_afresh(
    bot: Bot, kb: FakeKnowledge, responses: Responses
) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    del kb.guides["phone.font_size"]
    answer = bot.say("できた")
    assert bot.flow is None and text_of(answer) == responses.text("ja", "out_of_scope")


def test_bare_button_words_without_a_guide_are_not_searched(
    bot: Bot, kb: FakeKnowledge, responses: Responses
) -> None:
    platform = bot.say("アイフォン")
    assert text_of(platform) == responses.text("ja", "smartphone_help")
    for word in ("はい", "OK", "もう一回", "まえ"):
        assert text_of(bot.say(word)) == responses.text("ja", "out_of_scope")
    assert not kb.searches and bot.flow is None


@pytest.mark.parametrize("filler", ["えっと", "うーん、えーと", "ちょっと待って"])
def test_a_filler_is_never_answered_from_the_knowledge_base(
    bot: Bot, kb: FakeKnowledge, responses: Responses, filler: str
) -> None:
    # No guide: the honest "not understood", not whatever page shares a few characters.
    assert text_of(bot.say(filler)) == responses.text("ja", "kb_not_found")
    assert not kb.searches
    # In a guide: the step's buttons again, and the guide stays where it was.
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    searched = len(kb.searches)
    answer = bot.say(filler)
    assert "ボタン" in text_of(answer) and "ステップ1" in text_of(answer)
    assert len(kb.searches) == searched
    assert bot.state is not None and bot.state.guide_id == "phone.font_size"


PREGNANCY_BY_RANKING = assessment(
    "pregnancy_sos",
    0.7,
    escalate=True,
    urgency=Urgency.HIGH,
    categories=(SafetyCategory.PREGNANCY,),
)


def test_button_word_in_a_guide_is_read_as_the_button(bot: Bot) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    answer = bot.say("できた", PREGNANCY_BY_RANKING)
    assert answer.decision.action is Action.ANSWER and "ステップ2" in text_of(answer)
    read = bot.answerer.in_context(PREGNANCY_BY_RANKING, "できた", bot.flow)
    assert not read.escalate and read.categories == () and read.urgency is Urgency.NORMAL
    assert read.reasons[-1] == "flow:guide_answer" and read.intent == "pregnancy_sos"


def test_only_harmless_button_words_lose_the_classifiers_verdict_outside_a_guide(
    bot: Bot,
) -> None:
    read = bot.answerer.in_context(PREGNANCY_BY_RANKING, "できた", None)
    assert not read.escalate and read.reasons[-1] == "flow:button_word"
    assert bot.say("できた", PREGNANCY_BY_RANKING).decision.action is not Action.SAFETY
    # Words that can voice despair alone keep it: no guide asked a question.
    for word in ("無理", "もういい", "help", "全部終わった", "できない"):
        assert bot.answerer.in_context(CRISIS, word, None).escalate


def test_lexicon_hits_and_despair_words_always_stand_in_a_guide(bot: Bot) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    lexicon = Assessment(
        "suicide_risk", 0.2, True, Urgency.EMERGENCY, (SafetyCategory.SUICIDE,), ("lexicon:x",)
    )
    assert bot.answerer.in_context(lexicon, "できた", bot.flow).escalate
    for despair in ("やめたい", "おしまい", "終わりにする"):
        assert bot.answerer.in_context(CRISIS, despair, bot.flow).escalate
    # Longer than a button word: assessed as usual.
    assert bot.answerer.in_context(CRISIS, "できたけど死にたい", bot.flow).escalate
    # 「人と話す」 keeps its handoff.
    assert bot.answerer.in_context(HUMAN, "人と話す", bot.flow).escalate


def test_expired_guide_still_gives_context_to_the_reply_that_ends_it(
    bot: Bot, responses: Responses
) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    bot.now += timedelta(hours=25)
    answer = bot.say("できた", PREGNANCY_BY_RANKING)
    assert text_of(answer) == responses.text("ja", "flow_expired") and bot.state is None
    # Right after that note the word still answers the guide, never a classifier alarm …
    soon = bot.say("できた", PREGNANCY_BY_RANKING)
    assert soon.decision.action is Action.ANSWER
    assert text_of(soon) == responses.text("ja", "flow_after_done")
    # … and once the resume window has passed it no longer answers the guide, but a bare
    # 「できた」 is still no alarm (``harmless_alone``); 「もういい」 then is assessed as usual.
    bot.now += timedelta(minutes=11)
    late = bot.say("できた", PREGNANCY_BY_RANKING)
    assert late.decision.action is Action.ANSWER
    assert text_of(late) != responses.text("ja", "flow_after_done")
    assert bot.say("もういい", CRISIS).decision.action is Action.SAFETY


def test_a_sentence_naming_a_phone_mid_guide_is_a_new_question(bot: Bot) -> None:
    bot.say("LINEで写真を送りたい", assessment("smartphone_help", 0.9))
    bot.say("わたしのは アンドロイドです")
    bot.say("できた")
    answer = bot.say("iPhoneの文字を大きくしたい", assessment("smartphone_help", 0.9))
    assert "ガイドphone.font_size" in text_of(answer)
    assert bot.state is not None and bot.state.guide_id == "phone.font_size"
    # The bare name does switch: 「あ、アイフォンでした」 restarts on the iPhone steps.
    bot.say("LINEで写真を送りたい", assessment("smartphone_help", 0.9))
    bot.say("android")
    bot.say("できた")
    switched = bot.say("アイフォン")
    assert "Iステップ1" in text_of(switched)


def test_just_after_a_guide_ended_button_words_answer_it_and_the_lexicon_still_wins(
    bot: Bot, kb: FakeKnowledge, responses: Responses
) -> None:
    bot.say("文字を大きくしたい", assessment("smartphone_help", 0.9))
    for _ in range(3):
        bot.say("できた")
    assert bot.state is None
    lexicon = Assessment(
        "suicide_risk", 0.2, True, Urgency.EMERGENCY, (SafetyCategory.SUICIDE,), ("lexicon:x",)
    )
    assert bot.answerer.in_context(lexicon, "できた", bot.flow, bot.now).escalate
    assert bot.answerer.in_context(CRISIS, "やめたい", bot.flow, bot.now).escalate
    assert not bot.answerer.in_context(PREGNANCY_BY_RANKING, "できた", bot.flow, bot.now).escalate
    done = bot.say("でけた", PREGNANCY_BY_RANKING)
    assert done.decision.action is Action.ANSWER
    assert text_of(done) == responses.text("ja", "flow_after_done")
    # The 「人と話す」 button offered after a guide reaches digital help, like inside it.
    person = bot.say("人と話す", HUMAN)
    assert person.decision.action is Action.HANDOFF and person.pool == "digital"
    # English resident, English note; the guide's language is kept for a bare 「OK」.
    en = Bot(responses, kb)
    en.say("make the font bigger", assessment("smartphone_help", 0.9), language="en")
    en.say("stop", language="en")
    unsure = en.say("わからない", language="ja")
    assert text_of(unsure) == responses.text("en", "flow_after_unsure")
    assert unsure.replies is not None
    assert unsure.replies[0].quick_replies == responses.quick_replies("en", "flow_after")
    restart = en.say("start over", language="en")
    assert "step 1 text" in text_of(restart)
