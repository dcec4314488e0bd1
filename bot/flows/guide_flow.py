"""Step transitions of a guide: pure functions from (state, what the resident said) to a turn.

Nothing here touches text, the database or the clock: the caller passes ``now`` and renders
the returned :class:`FlowTurn` with :mod:`bot.flows.render`. Every rule of the issue — one step
per message, simpler re-explanation, a person offered after two failures, resume after a
pause, expiry — is a branch below with its own test.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.flows.controls import Control, PlatformWord
from bot.flows.state import FlowState, StepPlatform
from knowledge.types import Guide, GuideStep

# Failures on one step (「わからない」 or an unreadable answer) before a person is offered.
FAILURES_BEFORE_HUMAN_OFFER = 2


class Say(enum.Enum):
    """What the bot shows for a turn; :mod:`bot.flows.render` turns it into a Reply."""

    PLATFORM_QUESTION = "platform_question"
    PLATFORM_HELP = "platform_help"
    STEP = "step"
    STEP_SIMPLER = "step_simpler"
    STEP_FIRST_ALREADY = "step_first_already"
    UNRECOGNISED = "unrecognised"
    RESUME_QUESTION = "resume_question"
    DONE = "done"
    STOPPED = "stopped"
    HANDOFF = "handoff"


@dataclass(frozen=True)
class FlowLimits:
    """How long a guide waits: a resume question after a pause, a fresh start after expiry."""

    resume_after: timedelta = timedelta(minutes=10)
    expire_after: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class FlowTurn:
    """The outcome of one message inside a guide.

    ``state`` is None when the guide ended (done, stopped, handed to a person).
    ``intro`` marks the first message of a guide (its title and how the buttons work).
    """

    state: FlowState | None
    say: Say
    offer_human: bool = False
    intro: bool = False

    @property
    def handoff(self) -> bool:
        """True when the resident asked for a person from inside the guide."""
        return self.say is Say.HANDOFF


Age = Literal["fresh", "paused", "expired"]


def age_of(state: FlowState, now: datetime, limits: FlowLimits) -> Age:
    """Whether the guide is current, paused (ask before going on) or expired (drop it)."""
    idle = now - state.updated_at
    if idle > limits.expire_after:
        return "expired"
    if idle > limits.resume_after:
        return "paused"
    return "fresh"


def steps_for(guide: Guide, platform: StepPlatform | None) -> tuple[GuideStep, ...]:
    """The steps the resident follows (empty until the platform is known)."""
    if platform is None:
        return ()
    if "any" in guide.steps:
        return guide.steps["any"]
    return guide.steps.get(platform, ())


def current_step(guide: Guide, state: FlowState) -> GuideStep | None:
    """The step the state points at, if the guide still has it."""
    steps = steps_for(guide, state.platform)
    return steps[state.step] if 0 <= state.step < len(steps) else None


def start(guide: Guide, language: str, now: datetime) -> FlowTurn:
    """Begins a guide: the platform question first when iPhone and Android differ."""
    if guide.asks_platform:
        state = FlowState(guide.guide_id, "platform", 0, None, 0, language, now)
        return FlowTurn(state, Say.PLATFORM_QUESTION, intro=True)
    state = FlowState(guide.guide_id, "step", 0, "any", 0, language, now)
    return FlowTurn(state, Say.STEP, intro=True)


def pause(state: FlowState, now: datetime) -> FlowTurn:
    """The resident came back after a pause: ask 「つづきから はじめますか？」."""
    return FlowTurn(state.moved(now, phase="resume", failures=0), Say.RESUME_QUESTION)


def on_control(
    state: FlowState,
    guide: Guide,
    controls: frozenset[Control],
    platform: PlatformWord | None,
    now: datetime,
) -> FlowTurn | None:
    """Applies a control word (or a platform name); None when it means nothing here.

    Order matters where a message carries several meanings: stopping and asking for a person
    always win, and 「はい」 is DONE during a step but YES to the resume question.
    """
    if Control.NO in controls and state.failures >= FAILURES_BEFORE_HUMAN_OFFER:
        # 「だいじょうぶ、いらない」 to the offer of a person: no thanks, the guide goes on
        # where it was (still at the phone question if no phone was chosen yet).
        if state.phase == "platform":
            return FlowTurn(state.moved(now, failures=0), Say.PLATFORM_QUESTION)
        return FlowTurn(state.moved(now, phase="step", failures=0), Say.STEP)
    if Control.STOP in controls:
        return FlowTurn(None, Say.STOPPED)
    if Control.HUMAN in controls:
        return FlowTurn(None, Say.HANDOFF)
    if state.phase == "platform":
        return _platform_phase(state, guide, controls, platform, now)
    if state.phase == "resume":
        return _resume_phase(state, guide, controls, platform, now)
    return _step_phase(state, guide, controls, platform, now)


def on_unrecognised(state: FlowState, now: datetime) -> FlowTurn:
    """A message that is neither a control word nor a new question: show the buttons again.

    It counts as a failure: a resident who cannot use the buttons twice is offered a person.
    """
    if state.phase == "resume":
        return FlowTurn(state.moved(now), Say.RESUME_QUESTION)
    return _failed(state, now, Say.UNRECOGNISED)


def _failed(state: FlowState, now: datetime, say: Say, **changes: object) -> FlowTurn:
    """Counts one more failure on the current step; the second brings the offer of a person."""
    failures = state.failures + 1
    return FlowTurn(
        state.moved(now, failures=failures, **changes),
        say,
        offer_human=failures >= FAILURES_BEFORE_HUMAN_OFFER,
    )


def _platform_phase(
    state: FlowState,
    guide: Guide,
    controls: frozenset[Control],
    platform: PlatformWord | None,
    now: datetime,
) -> FlowTurn | None:
    if platform is not None:
        return _go_to(state, guide, 0, now, platform=_platform_of(platform))
    if Control.YES in controls and state.failures >= FAILURES_BEFORE_HUMAN_OFFER:
        # Two 「わからない」 at the phone question brought the offer of a person: 「はい」
        # accepts it here too, or the offer would be a button that does nothing.
        return FlowTurn(None, Say.HANDOFF)
    if Control.UNSURE in controls:
        return _failed(state, now, Say.PLATFORM_HELP)
    if controls:
        return FlowTurn(state.moved(now), Say.PLATFORM_QUESTION)
    return None


def _resume_phase(
    state: FlowState,
    guide: Guide,
    controls: frozenset[Control],
    platform: PlatformWord | None,
    now: datetime,
) -> FlowTurn | None:
    if state.platform is None:
        # Paused at the platform question: carry on there.
        resumed = state.moved(now, phase="platform")
        if platform is not None or Control.UNSURE in controls:
            return _platform_phase(resumed, guide, controls, platform, now)
        if controls & {Control.YES, Control.DONE, Control.AGAIN, Control.RESTART, Control.BACK}:
            return FlowTurn(resumed, Say.PLATFORM_QUESTION)
        return None
    if Control.RESTART in controls:
        return _go_to(state, guide, 0, now)
    if controls & {Control.YES, Control.DONE, Control.AGAIN}:
        return _go_to(state, guide, state.step, now)
    if controls & {Control.BACK, Control.UNSURE}:
        return _step_phase(state.moved(now, phase="step"), guide, controls, platform, now)
    return None


def _step_phase(
    state: FlowState,
    guide: Guide,
    controls: frozenset[Control],
    platform: PlatformWord | None,
    now: datetime,
) -> FlowTurn | None:
    total = len(steps_for(guide, state.platform))
    if Control.YES in controls and state.failures >= FAILURES_BEFORE_HUMAN_OFFER:
        # The last answer offered a person: 「はい」「お願いします」 accept it.
        return FlowTurn(None, Say.HANDOFF)
    if platform is not None and guide.asks_platform and _platform_of(platform) != state.platform:
        # 「あ、アンドロイドでした」: start again on the right phone.
        return _go_to(state, guide, 0, now, platform=_platform_of(platform))
    if Control.RESTART in controls:
        return _go_to(state, guide, 0, now)
    if Control.BACK in controls:
        if state.step > 0:
            return _go_to(state, guide, state.step - 1, now)
        if guide.asks_platform:
            back = state.moved(now, phase="platform", platform=None, failures=0)
            return FlowTurn(back, Say.PLATFORM_QUESTION)
        return FlowTurn(state.moved(now), Say.STEP_FIRST_ALREADY)
    if Control.AGAIN in controls:
        return FlowTurn(state.moved(now, phase="step"), Say.STEP)
    if Control.UNSURE in controls:
        return _failed(state, now, Say.STEP_SIMPLER, phase="step")
    if Control.DONE in controls:
        if state.step + 1 >= total:
            return FlowTurn(None, Say.DONE)
        return _go_to(state, guide, state.step + 1, now)
    if Control.YES in controls:
        # 「おねがいします」 during a step: show the step again rather than guess.
        return FlowTurn(state.moved(now, phase="step"), Say.STEP)
    if Control.NO in controls:
        # The offer of a person turned down: carry on with this step, counting afresh.
        return FlowTurn(state.moved(now, phase="step", failures=0), Say.STEP)
    return None


def _go_to(
    state: FlowState,
    guide: Guide,
    step: int,
    now: datetime,
    *,
    platform: StepPlatform | None = None,
) -> FlowTurn:
    chosen = platform or state.platform
    moved = state.moved(now, phase="step", step=step, failures=0, platform=chosen)
    return FlowTurn(moved, Say.STEP)


def _platform_of(word: PlatformWord) -> StepPlatform:
    return "iphone" if word is PlatformWord.IPHONE else "android"
