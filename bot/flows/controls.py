"""Recognising the words that steer a guide (できた, わからん, もういっぺん, stop …).

Older residents type what they would say: dialect, hiragana, kanji, full-width letters,
a trailing 「よ」. The phrases live in ``bot/content/flow_controls.yml``; both the phrases and
the message go through the NLU's normaliser, so every spelling variant compares equal.
Only a whole message is a control word: a sentence that merely contains one is not.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, TypeVar

from bot.content_files import CONTENT_DIR, load_yaml
from bot.errors import ContentError
from nlu.normalize import matching_form

CONTROLS_FILE = CONTENT_DIR / "flow_controls.yml"
T = TypeVar("T")


_PARTS = re.compile(r"[、。,.!！?？\s]+")
# The stem of 「できた」「できました」, the only done words forgiven a typo.
_DONE_STEM = "でき"
# Clause breaks only (no plain spaces): where a button word can be split off a sentence.
_CLAUSES = re.compile(r"(?:[、。,.!！?？\n]|\.\s)+\s*")
# A glued button word has at least this many characters in its comparison form.
_GLUED_MIN = 3


class Control(enum.StrEnum):
    """What a resident can tell a guide; the YAML keys are these values."""

    DONE = "done"
    UNSURE = "unsure"
    AGAIN = "again"
    BACK = "back"
    RESTART = "restart"
    STOP = "stop"
    HUMAN = "human"
    YES = "yes"
    NO = "no"


# Button words that may be glued to the words beside them with no punctuation at all
# (「今の説明ちょっとよくわからなかった」「すいませんもう一回」): not understanding, asking again,
# going back. Never done (「子どもができた」), stop or yes/no words, whose remark changes them.
_GLUED = frozenset({Control.UNSURE, Control.AGAIN, Control.BACK, Control.RESTART})
# A glued "unsure" must be a form of 分かる: 「できない」「むずかしい」 glued to words
# (「生きることができない」) can voice despair and are never split off.
_GLUED_UNSURE_STEMS = ("わか", "分か", "解ら", "わが")


class PlatformWord(enum.StrEnum):
    """The answer to 「iPhone ですか、Android ですか」."""

    IPHONE = "iphone"
    ANDROID = "android"


@dataclass(frozen=True)
class ButtonPart:
    """A button word at one end of a message (「できた」 in 「できた、音が出た」) and the rest."""

    controls: frozenset[Control]
    rest: str
    # The button word itself (「やめときます」), for rules about particular words.
    button: str = ""


def _key(text: str) -> str:
    """The comparison form: ``matching_form`` without emoji, symbols or stray punctuation."""
    return "".join(
        ch for ch in matching_form(text) if not unicodedata.category(ch).startswith(("P", "S", "Z"))
    )


@dataclass(frozen=True)
class FlowControls:
    """The control-word and platform vocabularies, plus the guide handoff pool."""

    phrases: dict[str, frozenset[Control]]
    endings: tuple[str, ...]
    platforms: dict[PlatformWord, tuple[str, ...]]
    handoff_pool: str
    keep_assessing: frozenset[str] = frozenset()
    # Words with no meaning beside a button word: 「おう、できた」 is 「できた」.
    interjections: frozenset[str] = frozenset()
    # Words residents put before a button word (やっぱり わからない, ほな 頼む), longest first.
    lead_ins: tuple[str, ...] = ()
    # Button words harmless even with no guide to answer (``harmless_alone`` in the file).
    harmless_alone: frozenset[str] = frozenset()
    # Stop words whose remark is judged on its own (``stop_with_remark`` in the file).
    stop_with_remark: frozenset[str] = frozenset()

    @property
    def _keep(self) -> dict[str, bool]:
        return dict.fromkeys(self.keep_assessing, True)

    @classmethod
    def load(cls, path: Path = CONTROLS_FILE) -> FlowControls:
        """Reads and checks the file; an unknown key or an empty list fails start-up."""
        raw = load_yaml(path)
        controls = raw.get("controls")
        if not isinstance(controls, dict):
            raise ContentError(f"{path}: 'controls' must be a mapping")
        unknown = set(controls) - {c.value for c in Control}
        missing = {c.value for c in Control} - set(controls)
        if unknown or missing:
            raise ContentError(
                f"{path}: unknown controls {sorted(unknown)}, missing {sorted(missing)}"
            )
        phrases: dict[str, set[Control]] = {}
        for name, words in controls.items():
            if not isinstance(words, list) or not words:
                raise ContentError(f"{path}: controls.{name} must be a non-empty list")
            for word in words:
                if not isinstance(word, str):  # YAML reads a bare yes/no/on as a boolean
                    raise ContentError(f"{path}: controls.{name}: quote {word!r}")
                key = _key(word)
                if not key:
                    raise ContentError(f"{path}: controls.{name} has an empty phrase {word!r}")
                phrases.setdefault(key, set()).add(Control(name))
        platforms_raw = raw.get("platforms")
        if not isinstance(platforms_raw, dict) or set(platforms_raw) != {
            p.value for p in PlatformWord
        }:
            raise ContentError(f"{path}: 'platforms' needs exactly iphone and android")
        platforms = {
            PlatformWord(name): tuple(_key(str(w)) for w in words)
            for name, words in platforms_raw.items()
        }
        pool = raw.get("handoff_pool")
        if not isinstance(pool, str) or not pool:
            raise ContentError(f"{path}: 'handoff_pool' must name a counselor pool")
        endings = tuple(
            sorted({_key(str(e)) for e in raw.get("endings") or ()} - {""}, key=len, reverse=True)
        )
        keep = _control_words(raw, "keep_assessing", phrases, path)
        harmless = _control_words(raw, "harmless_alone", phrases, path)
        remark_stops = raw.get("stop_with_remark") or []
        if not isinstance(remark_stops, list) or not all(
            isinstance(w, str) and Control.STOP in phrases.get(_key(w), set()) for w in remark_stops
        ):
            raise ContentError(f"{path}: 'stop_with_remark' must list stop words")
        interjections = raw.get("interjections") or []
        if not isinstance(interjections, list) or not all(
            isinstance(w, str) for w in interjections
        ):
            raise ContentError(f"{path}: 'interjections' must be a list of words")
        return cls(
            phrases={k: frozenset(v) for k, v in phrases.items()},
            endings=endings,
            platforms=platforms,
            handoff_pool=pool,
            keep_assessing=frozenset(_key(w) for w in keep) - {""},
            interjections=frozenset(_key(w) for w in interjections) - {""},
            lead_ins=tuple(
                sorted({_key(str(w)) for w in raw.get("lead_ins") or ()} - {""}, key=len)[::-1]
            ),
            harmless_alone=frozenset(_key(w) for w in harmless) - {""},
            stop_with_remark=frozenset(_key(w) for w in remark_stops) - {""},
        )

    def recognise(self, text: str) -> frozenset[Control]:
        """The controls the whole message means (empty when it is not a control word).

        「はい」 is both DONE and YES; the guide decides by what it asked.
        """
        found = self._whole_message(text, self.phrases)
        if found is not None:
            return found
        if self._is_done_typo(text):
            return frozenset({Control.DONE})
        # 「はい、お願いします」「いいえ、自分でやってみます」: every part a control word
        # (an interjection part — 「おう、できた」 — adds nothing and is skipped).
        parts = [p for p in _PARTS.split(text) if p.strip()]
        if len(parts) >= 2:
            parts = [p for p in parts if _key(p) not in self.interjections]
            # "sorry, go back one step": what is left, as one phrase (English phrases are
            # several space-separated parts).
            found = self._whole_message(" ".join(parts), self.phrases) if parts else None
            if found is not None:
                return found
        if 1 <= len(parts) <= 3:
            found = _union([self._whole_message(part, self.phrases) for part in parts])
            if found is not None:
                return found
        # 「いいです だいじょうぶ。じぶんで もういっかい みる」: kana typed with spaces between
        # words makes too many parts; read each sentence as a whole instead.
        clauses = [c for c in _CLAUSES.split(text) if c.strip()]
        if not 2 <= len(clauses) <= 3:
            return frozenset()
        return _union([self._clause_meaning(c) for c in clauses]) or frozenset()

    def _clause_meaning(self, clause: str) -> frozenset[Control] | None:
        """One sentence's controls: the sentence whole, or each of its few words."""
        found = self._whole_message(clause, self.phrases)
        if found is not None:
            return found
        words = [w for w in _PARTS.split(clause) if w.strip() and _key(w) not in self.interjections]
        if not 2 <= len(words) <= 3:
            return None
        return _union([self._whole_message(w, self.phrases) for w in words])

    def _is_done_typo(self, text: str) -> bool:
        """「でくた」「できまひた」: a 「できた」 with one key mistyped.

        Same length, same first 「で」, one character different, three characters or more.
        Only the できた family is forgiven: a mistyped 「できた」 is the commonest reply of
        all, and reading it as done costs at most one step (「前へ」 goes back). Other done
        words are not: 「おわりました」 is one key away from 「おわりにした」.
        """
        key = _key(text)
        if len(key) < 3 or key[0] != _DONE_STEM[0]:
            return False
        return any(
            Control.DONE in meaning
            and phrase.startswith(_DONE_STEM)
            and len(phrase) == len(key)
            and phrase[0] == key[0]
            and sum(a != b for a, b in zip(phrase, key, strict=True)) == 1
            for phrase, meaning in self.phrases.items()
        )

    def platform(self, text: str) -> PlatformWord | None:
        """IPhone or Android if the message names exactly one of them."""
        key = _key(text)
        named = {p for p, words in self.platforms.items() if any(w in key for w in words)}
        return named.pop() if len(named) == 1 else None

    def exact_platform(self, text: str) -> PlatformWord | None:
        """IPhone or Android when the whole message is just that name (「アイフォンです」)."""
        names = {word: p for p, words in self.platforms.items() for word in words}
        return self._whole_message(text, names)

    def is_guide_answer(self, text: str) -> bool:
        """True when the whole message is a button word whose meaning the guide settles.

        Used to read a short reply in the guide's context (「できた」 is "done", not news of
        a pregnancy) — except for the phrases listed under ``keep_assessing``, which can
        also voice despair (もういい) and keep the classifier's verdict.
        """
        parts = [text, *(p for p in _PARTS.split(text) if p.strip())]
        if any(self._whole_message(part, self._keep) is not None for part in parts):
            return False
        if self.exact_platform(text) is not None:
            return True
        controls = self.recognise(text)
        return bool(controls) and Control.HUMAN not in controls

    def is_harmless_alone(self, text: str) -> bool:
        """True when the whole message is a button word that alarms no one without a guide.

        「できた」 a day after the guide, or 「Android」 to an FAQ answer: the classifier, with
        no context, hears a pregnancy or worse. Only the ``harmless_alone`` words (and the
        bare platform names) qualify; 「無理」「もういい」「help」 can voice despair and do not.
        """
        if self.exact_platform(text) is not None:
            return True
        table = dict.fromkeys(self.harmless_alone, True)
        if self._whole_message(text, table) is not None:
            return True
        # 「うん、できた」「hmm, done」: every part harmless once interjections are skipped.
        parts = [p for p in _PARTS.split(text) if p.strip() and _key(p) not in self.interjections]
        return bool(parts) and all(self._whole_message(p, table) is not None for p in parts)

    def says_nothing(self, text: str) -> bool:
        """True when every part of the message is an interjection (「えっと」「うーん、待って」).

        A filler asks nothing: searched in the knowledge base its few characters still match
        some page, and the resident would get a random answer.
        """
        parts = [_key(p) for p in _PARTS.split(text) if p.strip()]
        parts = [p for p in parts if p]
        return bool(parts) and all(p in self.interjections for p in parts)

    def stop_takes_remark(self, button: str) -> bool:
        """True for a stop word whose remark may be judged alone (``stop_with_remark``)."""
        return self._whole_message(button, dict.fromkeys(self.stop_with_remark, True)) is not None

    def button_part(self, text: str) -> ButtonPart | None:
        """A button word that opens or closes a longer message, and the rest of it.

        「できた、ちゃんと鳴った」「oh, now I see. done」: the button word is split off at
        sentence punctuation only (never at a space, so "end it all" is not 「end」 + words),
        and the longest such word wins; failing that, a Japanese 「わからない」「もう一回」 glued
        to its words (:meth:`_glued_part`). The rest is returned for the safety layer to judge
        on its own; a message that is all button words is :meth:`recognise`'s, not this.
        """
        parts = [p for p in _CLAUSES.split(text) if p.strip()]
        if self.is_guide_answer(text):
            return None
        for size in range(len(parts) - 1, 0, -1):
            for button, rest in ((parts[:size], parts[size:]), (parts[-size:], parts[:-size])):
                words = " ".join(button)
                if not self.is_guide_answer(words):
                    continue
                remainder = [p for p in rest if _key(p) not in self.interjections]
                if not remainder:
                    return None  # only interjections beside it: a whole button message
                rest_text = " ".join(p.strip() for p in remainder)
                if Control.HUMAN in self.recognise(rest_text):
                    return None  # 「できた、人と話したい」 asks for a person, not the next step
                return ButtonPart(self.recognise(words), rest_text, words)
        return self._glued_part(parts)

    def _glued_part(self, parts: list[str]) -> ButtonPart | None:
        """A Japanese button word glued to the end of the last clause or the start of the first.

        Only the :data:`_GLUED` meanings, only Japanese (English words run together would
        find "end" in "weekend"), and the longest such word wins. The rest goes to the
        safety layer like any other remark; a rest of interjections only (「今のとこ」) is
        returned empty.
        """
        cores = self._glued_cores
        whole = _key(" ".join(parts))
        if not parts or not any(core in whole for core in cores):
            return None  # most long messages: no glued word anywhere, nothing to try
        first, last = parts[0], parts[-1]
        # (button, rest, whether the button ends the message and may carry endings): at the
        # start an ending would eat the next word (「もう一回あの画面」 is not 「もう一回あ」).
        # Never longer than a lead-in, the word and two endings (spaces allowed for): a
        # long voice-input clause must not cost a comparison form per character.
        span = 2 * self._glued_span
        splits = [
            (last[i:], [*parts[:-1], last[:i]], True)
            for i in range(max(1, len(last) - span), len(last))
        ]
        splits += [
            (first[:i], [first[i:], *parts[1:]], False)
            for i in range(min(len(first) - 1, span), 0, -1)
        ]
        best: tuple[str, list[str], frozenset[Control]] | None = None
        for button, rest, at_end in splits:
            key = _key(button)
            # Cheap checks first: every split position of a long clause is a candidate.
            if len(key) < _GLUED_MIN or key.isascii() or not any(c in key for c in cores):
                continue
            if not at_end and key not in self.phrases:
                continue
            # What :meth:`_whole_message` can read begins with a lead-in or the word itself.
            if at_end and not key.startswith((*cores, *self.lead_ins)):
                continue
            controls = self.recognise(button)
            if not controls or not controls <= _GLUED:
                continue
            if Control.UNSURE in controls and not any(s in key for s in _GLUED_UNSURE_STEMS):
                continue
            if not self.is_guide_answer(button):
                continue
            if best is None or len(key) > len(_key(best[0])):
                best = (button, rest, controls)
        if best is None:
            return None
        button, rest, controls = best
        remainder = [
            self._without_interjection(p.strip())
            for p in rest
            if p.strip() and _key(p) not in self.interjections
        ]
        return ButtonPart(controls, " ".join(p for p in remainder if p), button)

    @cached_property
    def _glued_cores(self) -> tuple[str, ...]:
        """The phrases a glued button word must contain (see :data:`_GLUED`)."""
        return tuple(
            phrase
            for phrase, meaning in self.phrases.items()
            if meaning <= _GLUED
            and (Control.UNSURE not in meaning or any(s in phrase for s in _GLUED_UNSURE_STEMS))
        )

    @cached_property
    def _glued_span(self) -> int:
        """The longest comparison form :meth:`_whole_message` can read as a glued word."""
        longest = [
            max((len(w) for w in words), default=0)
            for words in (self.lead_ins, self._glued_cores, self.endings)
        ]
        return longest[0] + longest[1] + 2 * longest[2]

    def _without_interjection(self, text: str) -> str:
        """``text`` without an interjection glued to its start (「すいません今の説明」).

        An apology or a filler says nothing, but a context-free classifier reads 「すいません」
        next to a few words as the opening of a confession.
        """
        longest = max((len(w) for w in self.interjections), default=0)
        for size in range(min(len(text) - 1, 2 * longest), 0, -1):
            key = _key(text[:size])
            # Three characters at least: 「あ」 would eat the start of 「あの画面」.
            if len(key) >= _GLUED_MIN and key in self.interjections and not key.isascii():
                return text[size:].strip()
        return text

    def _whole_message(self, text: str, table: Mapping[str, T]) -> T | None:
        key = _key(text)
        candidates = [key] + [
            key[len(lead) :] for lead in self.lead_ins if key.startswith(lead) and key != lead
        ]
        # The bare word, then with one ending dropped, then two (できたよね, わからんですわ).
        for _ in range(3):
            for key in candidates:
                if key in table:
                    return table[key]
            candidates = [
                key[: -len(ending)]
                for key in candidates
                for ending in self.endings
                if key.endswith(ending) and len(key) > len(ending)
            ]
        return None


def _union(meanings: list[frozenset[Control] | None]) -> frozenset[Control] | None:
    """Every part's controls together, or None when some part is not a control word."""
    if any(m is None for m in meanings):
        return None
    return frozenset().union(*(m for m in meanings if m is not None))


def _control_words(
    raw: Mapping[str, Any], name: str, phrases: Mapping[str, object], path: Path
) -> list[str]:
    """A list of the file that may only name control words (``keep_assessing`` …)."""
    words = raw.get(name) or []
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ContentError(f"{path}: '{name}' must be a list of phrases")
    stray = [w for w in words if _key(w) not in phrases]
    if stray:
        raise ContentError(f"{path}: {name} lists non-control words {stray}")
    return words


@lru_cache(maxsize=1)
def default_controls() -> FlowControls:
    """The shipped vocabulary, read once per process."""
    return FlowControls.load()
