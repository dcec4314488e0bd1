"""A button word that opens or closes a longer message, through the whole engine.

「できた、音が出たよ」 inside a guide is the button plus a remark: the remark is judged on its
own by the same safety layer, and only when it does not escalate by itself is the message
read as the button. Stop words never qualify, and outside a guide nothing changes.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.engine import Engine
from bot.flows.context import rest_to_assess
from bot.flows.controls import Control, FlowControls
from bot.responses import Responses
from bot.safety.lexicon import CrisisLexicon
from bot.types import IncomingMessage, TurnResult
from handoff.models import Case
from storage.crypto import Keyring
from storage.db import Database
from tests.bot.fake_knowledge import FakeKnowledge
from tests.bot.test_engine_flows import SCRIPT, ScriptedNlu
from tests.conftest import make_engine

REMARKS = {
    **SCRIPT,
    # The whole message, as a context-free classifier might read it …
    "できた、音が出たよ": ("pregnancy_sos", 0.7),
    "なるほどね。できました": ("pregnancy_sos", 0.6),
    "できた、誰にも会いたくない": ("suicide_risk", 0.8),
    "やめます、疲れた": ("suicide_risk", 0.8),
    "やめます、お茶にする": ("suicide_risk", 0.7),
    "お茶にする": ("out_of_scope", 0.9),
    "もういい、お茶にする": ("suicide_risk", 0.7),
    "できまひた": ("pregnancy_sos", 0.6),
    "今の説明よくわかりませんでした": ("pregnancy_sos", 0.9),
    "今のとこもう1回": ("suicide_risk", 0.9),
    "誰にも会いたくないわからない": ("suicide_risk", 0.8),
    # … and the remark alone.
    "音が出たよ": ("out_of_scope", 0.9),
    "なるほどね": ("out_of_scope", 0.9),
    "誰にも会いたくない": ("suicide_risk", 0.8),
    "疲れた": ("suicide_risk", 0.8),
}


@pytest.fixture
def engine(
    database: Database, keyring: Keyring, lexicon: CrisisLexicon, responses: Responses
) -> Engine:
    return make_engine(
        database,
        ScriptedNlu(REMARKS),
        keyring=keyring,
        lexicon=lexicon,
        responses=responses,
        knowledge=FakeKnowledge(),
    )


async def say(engine: Engine, text: str, user: str = "Uremark01") -> TurnResult:
    return await engine.handle(IncomingMessage(channel="line", user_ref=user, text=text))


def text_of(result: TurnResult) -> str:
    return "\n".join(r.text for r in result.replies)


async def cases(database: Database, conversation_id: str) -> list[Case]:
    async with database.session() as s:
        rows = await s.scalars(select(Case).where(Case.conversation_id == conversation_id))
        return list(rows.all())


async def test_button_word_with_a_harmless_remark_answers_the_step(
    engine: Engine, database: Database
) -> None:
    await say(engine, "文字を大きくしたい")
    step2 = await say(engine, "できた、音が出たよ")
    assert not step2.assessment.escalate and step2.case_id is None
    assert "flow:guide_answer" in step2.assessment.reasons
    assert "ステップ2" in text_of(step2)
    step3 = await say(engine, "なるほどね。できました")
    assert step3.case_id is None and "ステップ3" in text_of(step3)
    assert await cases(database, step2.conversation_id) == []


async def test_a_remark_that_escalates_alone_still_escalates(
    engine: Engine, database: Database
) -> None:
    await say(engine, "文字を大きくしたい")
    result = await say(engine, "できた、誰にも会いたくない")
    assert result.assessment.escalate and result.case_id is not None
    assert len(await cases(database, result.conversation_id)) == 1


async def test_a_glued_unsure_or_again_answers_the_step(engine: Engine, database: Database) -> None:
    await say(engine, "文字を大きくしたい", user="Uremark07")
    simpler = await say(engine, "今の説明よくわかりませんでした", user="Uremark07")
    assert simpler.case_id is None and "flow:guide_answer" in simpler.assessment.reasons
    again = await say(engine, "今のとこもう1回", user="Uremark07")
    assert again.case_id is None and "ステップ1" in text_of(again)
    assert await cases(database, again.conversation_id) == []


@pytest.mark.parametrize(
    ("text", "user"),
    [
        # a glued 「わからない」 after words that escalate alone
        ("誰にも会いたくないわからない", "Uremark08"),
        # a stop word with a remark that escalates alone
        ("やめます、疲れた", "Uremark02"),
        # もういい keeps the verdict even if the remark is harmless
        ("もういい、お茶にする", "Uremark06"),
    ],
)
async def test_in_a_guide_these_keep_the_classifiers_verdict(
    engine: Engine, text: str, user: str
) -> None:
    await say(engine, "文字を大きくしたい", user=user)
    result = await say(engine, text, user=user)
    assert result.assessment.escalate and result.case_id is not None


async def test_a_plain_stop_word_with_a_harmless_remark_stops_the_guide(engine: Engine) -> None:
    await say(engine, "文字を大きくしたい", user="Uremark05")
    result = await say(engine, "やめます、お茶にする", user="Uremark05")
    assert not result.assessment.escalate and result.case_id is None
    assert "flow:guide_answer" in result.assessment.reasons


async def test_outside_a_guide_the_whole_message_is_assessed_as_usual(engine: Engine) -> None:
    result = await say(engine, "できた、音が出たよ", user="Uremark03")
    assert result.assessment.escalate and result.case_id is not None


async def test_a_mistyped_done_is_the_button_inside_a_guide(engine: Engine) -> None:
    await say(engine, "文字を大きくしたい", user="Uremark04")
    result = await say(engine, "できまひた", user="Uremark04")
    assert result.case_id is None and "ステップ2" in text_of(result)


@pytest.mark.parametrize(
    ("text", "controls", "rest"),
    [
        ("できた、ちゃんと鳴ったよ", {Control.DONE}, "ちゃんと鳴ったよ"),
        ("画面が明るくなった。できました", {Control.DONE}, "画面が明るくなった"),
        ("it shows up now. done", {Control.DONE}, "it shows up now"),
        ("ごめんね、ここがわからない。わかりません", {Control.UNSURE}, "ここがわからない"),
        # glued, with no punctuation: only 分かる forms, again, back and restart
        ("すいませんその説明ちょっとわからなかった", {Control.UNSURE}, "その説明"),
        ("今のとこもう1回", {Control.AGAIN}, ""),
        ("すみませんあの画面もう一回", {Control.AGAIN}, "あの画面"),
        ("もう一回あの画面見せて", {Control.AGAIN}, "あの画面見せて"),
        ("Hmm, I messed up. Can we go back to step one?", {Control.RESTART}, "I messed up"),
    ],
)
def test_button_part_splits_at_clause_breaks(text: str, controls: set[Control], rest: str) -> None:
    part = FlowControls.load().button_part(text)
    assert part is not None
    assert part.controls == frozenset(controls)
    assert part.rest == rest


def test_a_glued_word_ends_a_long_voice_input_clause() -> None:
    words = "えーと今日は朝から孫が来ていて一緒にスマホの設定を見ているんですけど" * 4
    part = FlowControls.load().button_part(words + "今のところもう一回")
    assert part is not None
    assert part.controls == frozenset({Control.AGAIN})
    assert part.rest == words + "今のところ"


@pytest.mark.parametrize(
    "text",
    [
        "できた",  # a whole button message is recognise()'s
        "はい、できました",  # every part a button word
        "end it all tonight",  # never split at a plain space
        "no one would miss me",
        "画面が明るくなった",  # no button word at either end
        "子どもができた",  # done is never split off glued words
        "生きることができない",  # nor できない, which can voice despair
        "もうなにもかもむずかしい",
        "weekend plans are done",  # nor English run together
    ],
)
def test_no_button_part(text: str) -> None:
    assert FlowControls.load().button_part(text) is None


@pytest.mark.parametrize(
    "text", ["もういい。眠りたい", "ええわ、疲れた", "人と話す、今すぐ", "できた、人と話したい"]
)
def test_despair_stop_words_and_human_words_never_have_their_rest_judged_alone(
    text: str,
) -> None:
    assert rest_to_assess(text, FlowControls.load()) is None


def test_a_plain_stop_word_has_its_remark_judged_alone() -> None:
    assert rest_to_assess("やめときます。明日 役所に 行きます", FlowControls.load()) == (
        "明日 役所に 行きます"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("できたぁ", {Control.DONE}),
        ("できましたあ", {Control.DONE}),
        ("でさた", {Control.DONE}),  # one key off
        ("できまちた", {Control.DONE}),
        ("おわりにした", set()),  # one key from おわりました, and may be despair: not forgiven
        ("しにたい", set()),
        ("dekimashita", {Control.DONE}),
        ("wakarimasen", {Control.UNSURE}),
        ("すいません、もう一度", {Control.AGAIN}),
        ("一旦やめます", {Control.STOP}),
    ],
)
def test_typos_romaji_apologies_and_lead_ins(text: str, expected: set[Control]) -> None:
    assert FlowControls.load().recognise(text) == frozenset(expected)


async def test_a_yes_word_beside_a_remark_never_takes_the_offered_person(
    engine: Engine, database: Database
) -> None:
    # 「ええよ」 opens a refusal in western dialects: after the offer of a person, only a
    # message that is all yes-words takes it.
    await say(engine, "文字を大きくしたい", user="Uremark05")
    await say(engine, "わからない", user="Uremark05")
    offer = await say(engine, "わからない", user="Uremark05")
    assert "人と話す" in text_of(offer)
    declined = await say(engine, "ええよ、相談員さんは呼ばんでいい。自分でやる", user="Uremark05")
    assert declined.case_id is None
    assert await cases(database, declined.conversation_id) == []
    accepted = await say(engine, "はい、お願いします", user="Uremark05")
    assert accepted.case_id is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ちょっとまって、もう一回いうて", {Control.AGAIN}),
        ("待って。前に戻ってください", {Control.BACK}),
        ("まだわからんのう", {Control.UNSURE}),
        ("I can't do this step", set()),  # "do" is not an ending: no guess
        ("I don't know this step", {Control.UNSURE}),
        ("repeat that part please", {Control.AGAIN}),
        ("はじめからやりたい", {Control.RESTART}),
        ("もういっぺんおねがい", {Control.AGAIN}),
        ("終わりにしたい", set()),  # what is left after したい is no control word
        ("いなくなりたい", set()),
    ],
)
def test_waits_dialect_endings_and_english_tails(text: str, expected: set[Control]) -> None:
    assert FlowControls.load().recognise(text) == frozenset(expected)
