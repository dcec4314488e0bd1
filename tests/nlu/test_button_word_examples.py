"""Training data and the words residents type to a guide's buttons.

Inside a guide a bare 「できた」 is read in context (bot/flows/context.py), which only works
if no sensitive intent is *trained* on a bare button word; and the real signal (「できたかも」
「赤ちゃんできた」) must stay in pregnancy_sos. Teaching the classifier that a bare 「できた」
is harmless was tried and lowered recall on 「できちゃった、どうしよう」, so it is not done.
"""

from __future__ import annotations

import re

from bot.flows.controls import Control, FlowControls
from bot.types import SENSITIVE_INTENTS
from tests.nlu.test_training_data import training_examples

STEP_BUTTONS = {Control.DONE, Control.UNSURE, Control.AGAIN}


def test_no_bare_step_button_word_is_a_sensitive_example() -> None:
    controls = FlowControls.load()
    examples = training_examples()
    for intent in SENSITIVE_INTENTS:
        bare = [t for t in examples[intent] if controls.recognise(t) & STEP_BUTTONS]
        assert bare == [], intent


def test_pregnancy_news_with_dekita_keeps_its_signal_words() -> None:
    signal = re.compile(r"でき.*(かも|っぽい)|(赤ちゃん|子ども|子).*でき")
    news = [t for t in training_examples()["pregnancy_sos"] if signal.search(t)]
    assert len(news) >= 8
