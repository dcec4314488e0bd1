"""Guide transitions as pure functions: every control word in every phase, pause and expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.flows import guide_flow as gf
from bot.flows.controls import Control, PlatformWord
from bot.flows.guide_flow import FlowLimits, Say
from bot.flows.state import FlowState, StepPlatform
from knowledge.types import Guide
from tests.bot.fake_knowledge import make_guide

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=1)
PHONE = make_guide("line.send_photo", per_platform=True, steps=3)
ANY = make_guide("phone.font_size", per_platform=False, steps=3)


def at(
    step: int, *, guide_id: str = ANY.guide_id, platform: StepPlatform = "any", failures: int = 0
) -> FlowState:
    return FlowState(guide_id, "step", step, platform, failures, "ja", T0)


def ctl(
    state: FlowState, *controls: Control, guide: Guide = ANY, platform: PlatformWord | None = None
) -> gf.FlowTurn:
    turn = gf.on_control(state, guide, frozenset(controls), platform, LATER)
    assert turn is not None
    return turn


def test_start_asks_platform_only_when_steps_differ() -> None:
    phone = gf.start(PHONE, "ja", T0)
    assert phone.say is Say.PLATFORM_QUESTION and phone.intro
    assert phone.state is not None and phone.state.phase == "platform"
    assert phone.state.platform is None
    same = gf.start(ANY, "en", T0)
    assert same.say is Say.STEP and same.intro
    assert same.state == FlowState(ANY.guide_id, "step", 0, "any", 0, "en", T0)


@pytest.mark.parametrize(
    ("word", "platform"), [(PlatformWord.IPHONE, "iphone"), (PlatformWord.ANDROID, "android")]
)
def test_platform_answer_starts_that_platforms_steps(word: PlatformWord, platform: str) -> None:
    asked = gf.start(PHONE, "ja", T0).state
    assert asked is not None
    turn = gf.on_control(asked, PHONE, frozenset(), word, LATER)
    assert turn is not None and turn.say is Say.STEP
    assert turn.state is not None
    assert (turn.state.phase, turn.state.step, turn.state.platform) == ("step", 0, platform)
    assert gf.current_step(PHONE, turn.state) == PHONE.steps[platform][0]  # type: ignore[index]


def test_platform_unsure_explains_then_offers_a_person() -> None:
    asked = gf.start(PHONE, "ja", T0).state
    assert asked is not None
    first = ctl(asked, Control.UNSURE, guide=PHONE)
    assert first.say is Say.PLATFORM_HELP and not first.offer_human
    assert first.state is not None
    second = ctl(first.state, Control.UNSURE, guide=PHONE)
    assert second.say is Say.PLATFORM_HELP and second.offer_human


def test_platform_phase_ignores_step_controls_and_asks_again() -> None:
    asked = gf.start(PHONE, "ja", T0).state
    assert asked is not None
    for control in (Control.DONE, Control.AGAIN, Control.BACK, Control.RESTART):
        turn = ctl(asked, control, guide=PHONE)
        assert turn.say is Say.PLATFORM_QUESTION and turn.state is not None
        assert turn.state.platform is None
    assert gf.on_control(asked, PHONE, frozenset(), None, LATER) is None


def test_done_advances_one_step_and_finishes_after_the_last() -> None:
    state = at(0)
    for expected in (1, 2):
        turn = ctl(state, Control.DONE)
        assert turn.say is Say.STEP and turn.state is not None and turn.state.step == expected
        state = turn.state
    end = ctl(state, Control.DONE)
    assert end.say is Say.DONE and end.state is None


def test_hai_during_a_step_is_done() -> None:
    turn = ctl(at(0), Control.DONE, Control.YES)
    assert turn.state is not None and turn.state.step == 1


def test_unsure_explains_simpler_then_offers_a_person_after_two() -> None:
    first = ctl(at(1), Control.UNSURE)
    assert first.say is Say.STEP_SIMPLER and not first.offer_human
    assert first.state is not None and first.state.step == 1 and first.state.failures == 1
    second = ctl(first.state, Control.UNSURE)
    assert second.say is Say.STEP_SIMPLER and second.offer_human
    assert second.state is not None and second.state.failures == 2
    # Managing the step clears the count: the next step starts with a clean slate.
    moved = ctl(second.state, Control.DONE)
    assert moved.state is not None and moved.state.failures == 0 and not moved.offer_human


def test_again_repeats_the_same_step_without_counting_a_failure() -> None:
    turn = ctl(at(1, failures=1), Control.AGAIN)
    assert turn.say is Say.STEP and turn.state is not None
    assert (turn.state.step, turn.state.failures) == (1, 1)


def test_back_goes_to_the_previous_step() -> None:
    turn = ctl(at(2), Control.BACK)
    assert turn.say is Say.STEP and turn.state is not None and turn.state.step == 1


def test_back_at_the_first_step() -> None:
    same = ctl(at(0), Control.BACK)
    assert same.say is Say.STEP_FIRST_ALREADY and same.state is not None
    assert same.state.step == 0
    # With a platform question before step 1, 「前へ」 goes back to it.
    phone = ctl(at(0, guide_id=PHONE.guide_id, platform="iphone"), Control.BACK, guide=PHONE)
    assert phone.say is Say.PLATFORM_QUESTION and phone.state is not None
    assert (phone.state.phase, phone.state.platform) == ("platform", None)


def test_restart_goes_to_step_one_keeping_the_platform() -> None:
    turn = ctl(
        at(2, guide_id=PHONE.guide_id, platform="android", failures=1),
        Control.RESTART,
        guide=PHONE,
    )
    assert turn.state is not None
    assert (turn.state.step, turn.state.platform, turn.state.failures) == (0, "android", 0)


@pytest.mark.parametrize("phase", ["platform", "step", "resume"])
def test_stop_and_human_end_the_guide_in_every_phase(phase: str) -> None:
    state = FlowState(PHONE.guide_id, phase, 1, "iphone", 0, "ja", T0)  # type: ignore[arg-type]
    stop = ctl(state, Control.STOP, guide=PHONE)
    assert stop.say is Say.STOPPED and stop.state is None
    human = ctl(state, Control.HUMAN, guide=PHONE)
    assert human.handoff and human.state is None
    # Stopping wins over anything else the message might also mean.
    assert ctl(state, Control.STOP, Control.DONE, guide=PHONE).say is Say.STOPPED


def test_naming_the_other_phone_mid_guide_switches_platform() -> None:
    state = at(2, guide_id=PHONE.guide_id, platform="iphone")
    turn = gf.on_control(state, PHONE, frozenset(), PlatformWord.ANDROID, LATER)
    assert turn is not None and turn.state is not None
    assert (turn.state.platform, turn.state.step) == ("android", 0)
    assert gf.on_control(state, PHONE, frozenset(), PlatformWord.IPHONE, LATER) is None


def test_unrecognised_counts_as_a_failure() -> None:
    first = gf.on_unrecognised(at(1), LATER)
    assert first.say is Say.UNRECOGNISED and not first.offer_human
    assert first.state is not None
    assert gf.on_unrecognised(first.state, LATER).offer_human


def test_ages() -> None:
    limits = FlowLimits(resume_after=timedelta(minutes=10), expire_after=timedelta(hours=24))
    state = at(1)
    assert gf.age_of(state, T0 + timedelta(minutes=9), limits) == "fresh"
    assert gf.age_of(state, T0 + timedelta(minutes=11), limits) == "paused"
    assert gf.age_of(state, T0 + timedelta(hours=25), limits) == "expired"


def test_resume_question_and_answers() -> None:
    paused = gf.pause(at(1, failures=1), LATER)
    assert paused.say is Say.RESUME_QUESTION and paused.state is not None
    assert paused.state.phase == "resume" and paused.state.failures == 0
    state = paused.state
    for yes in (Control.YES, Control.DONE, Control.AGAIN):
        turn = ctl(state, yes)
        assert turn.say is Say.STEP and turn.state is not None
        assert (turn.state.phase, turn.state.step) == ("step", 1)
    restart = ctl(state, Control.RESTART)
    assert restart.state is not None and restart.state.step == 0
    back = ctl(state, Control.BACK)
    assert back.state is not None and back.state.step == 0
    simpler = ctl(state, Control.UNSURE)
    assert simpler.say is Say.STEP_SIMPLER
    assert gf.on_control(state, ANY, frozenset(), None, LATER) is None
    again = gf.on_unrecognised(state, LATER)
    assert again.say is Say.RESUME_QUESTION and again.state is not None
    assert again.state.failures == 0


def test_resume_at_the_platform_question() -> None:
    asked = gf.start(PHONE, "ja", T0).state
    assert asked is not None
    paused = gf.pause(asked, LATER).state
    assert paused is not None
    yes = ctl(paused, Control.YES, guide=PHONE)
    assert yes.say is Say.PLATFORM_QUESTION and yes.state is not None
    assert yes.state.phase == "platform"
    named = gf.on_control(paused, PHONE, frozenset(), PlatformWord.IPHONE, LATER)
    assert named is not None and named.state is not None and named.state.platform == "iphone"


def test_state_round_trips_as_text_free_json() -> None:
    state = at(2, guide_id=PHONE.guide_id, platform="iphone", failures=1)
    raw = state.to_json()
    assert FlowState.from_json(raw) == state
    assert set(json.loads(raw)) == {
        "guide_id",
        "phase",
        "step",
        "platform",
        "failures",
        "language",
        "updated_at",
        "v",
    }


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "[]",
        '{"v": 99}',
        '{"v": 1, "guide_id": "x"}',
        '{"v":1,"guide_id":"x","phase":"dance","step":0,"platform":null,"failures":0,'
        '"language":"ja","updated_at":"2026-11-21T09:00:00+00:00"}',
        '{"v":1,"guide_id":"x","phase":"step","step":0,"platform":"any","failures":0,'
        '"language":"ja","updated_at":"yesterday"}',
    ],
)
def test_unreadable_state_is_no_guide(raw: str | None) -> None:
    assert FlowState.from_json(raw) is None


def test_naive_timestamps_are_read_as_utc() -> None:
    raw = at(0).to_json().replace("+00:00", "")
    parsed = FlowState.from_json(raw)
    assert parsed is not None and parsed.updated_at == T0


def test_yes_after_the_offer_of_a_person_accepts_it() -> None:
    offered = at(1, failures=2)
    assert ctl(offered, Control.YES, Control.DONE).say is Say.HANDOFF  # 「はい、お願いします」
    # Before any offer, 「はい」 is still "done".
    assert ctl(at(1), Control.YES, Control.DONE).say is Say.STEP


def test_no_turns_the_offer_down_and_the_step_goes_on() -> None:
    turn = ctl(at(1, failures=2), Control.NO)
    assert turn.say is Say.STEP and turn.state is not None
    assert (turn.state.step, turn.state.failures) == (1, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("はい、お願いします", {Control.YES, Control.DONE}),
        ("いいえ、自分でやってみます", {Control.NO}),
        ("できた。", {Control.DONE}),
        ("もう死にたい、やめる", set()),  # not every part is a button word
        ("わかりました、電話切ります", set()),
    ],
)
def test_messages_made_of_button_words(text: str, expected: set[Control]) -> None:
    from bot.flows.controls import FlowControls

    assert FlowControls.load().recognise(text) == frozenset(expected)


def test_declining_the_offer_with_a_stop_word_keeps_the_guide() -> None:
    # 「だいじょうぶ、いらない」 = NO + STOP: after the offer it declines the person only.
    turn = ctl(at(1, failures=2), Control.NO, Control.STOP)
    assert turn.say is Say.STEP and turn.state is not None and turn.state.step == 1
    # Without a pending offer, いらない still stops.
    assert ctl(at(1), Control.NO, Control.STOP).say is Say.STOPPED


def test_declining_the_offer_at_the_phone_question_asks_it_again() -> None:
    offered = FlowState(PHONE.guide_id, "platform", 0, None, 2, "ja", T0)
    turn = gf.on_control(offered, PHONE, frozenset({Control.NO, Control.STOP}), None, LATER)
    assert turn is not None and turn.say is Say.PLATFORM_QUESTION
    assert turn.state is not None
    assert (turn.state.phase, turn.state.platform, turn.state.failures) == ("platform", None, 0)


def test_yes_after_the_offer_at_the_phone_question_accepts_it() -> None:
    # Two 「わからない」 to "iPhone or Android?" bring the offer; 「はい、お願い」 takes it.
    asked = gf.start(PHONE, "ja", T0).state
    assert asked is not None
    first = ctl(asked, Control.UNSURE, guide=PHONE)
    assert first.state is not None
    second = ctl(first.state, Control.UNSURE, guide=PHONE)
    assert second.offer_human and second.state is not None
    assert ctl(second.state, Control.YES, Control.DONE, guide=PHONE).say is Say.HANDOFF
    # Without an offer, 「はい」 at the phone question only asks it again.
    assert ctl(asked, Control.YES, Control.DONE, guide=PHONE).say is Say.PLATFORM_QUESTION
