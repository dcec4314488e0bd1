"""Japanese text normalisation shared by the Rasa tokenizer and the app's safety layer.

Residents type in every script and width: ｶﾀｶﾅ, ｈａｎｋａｋｕ, hiragana-only, stretched
vowels (しにたーーい) and repeated letters (たすけてええええ). One normaliser, used on both
sides of the HTTP boundary, keeps the classifier and the crisis lexicon seeing the same text.
Standard library only: this module is imported by Python 3.10 (Rasa) and 3.11 (app).
"""

from __future__ import annotations

import re
import unicodedata

_HYPHENS_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\-‐‑‒–—―−ー－─━ｰ](?=\d)")
_RUNS_OF_THREE = re.compile(r"(.)\1{2,}")
_LONG_VOWEL_RUN = re.compile(r"[ー〜～~]{2,}")
# A long-vowel mark after hiragana is always elongation (しにたーい), never part of a word.
_LONG_VOWEL_AFTER_HIRAGANA = re.compile(r"(?<=[\u3041-\u3096])[ー〜～~]+")
_SPACES = re.compile(r"\s+")
_KATAKANA_START, _KATAKANA_END = 0x30A1, 0x30F6
_KANA_OFFSET = 0x60
# Dropped for matching only: punctuation and spacing that residents sprinkle inside words.
_MATCH_NOISE = re.compile(r"[\s・、。,\.!?！？…‥「」『』（）()\[\]【】\"'`*＊_＿/／\\|｜:：;；]+")


def normalize(text: str) -> str:
    """Return the canonical form both Rasa and the safety layer work on.

    NFKC folds half-width kana and full-width ASCII; case is folded; hyphen-like
    characters between digits become '-' (phone numbers typed as 090ー1234ー5678);
    runs of three or more identical characters and stretched long vowels collapse.
    """
    text = unicodedata.normalize("NFKC", text)
    text = text.lower()
    text = _HYPHENS_BETWEEN_DIGITS.sub("-", text)
    text = _LONG_VOWEL_AFTER_HIRAGANA.sub("", text)
    text = _LONG_VOWEL_RUN.sub("ー", text)
    text = _RUNS_OF_THREE.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def to_hiragana(text: str) -> str:
    """Fold katakana to hiragana so スマホ, ｽﾏﾎ and すまほ compare equal."""
    return "".join(
        chr(ord(ch) - _KANA_OFFSET) if _KATAKANA_START <= ord(ch) <= _KATAKANA_END else ch
        for ch in text
    )


def matching_form(text: str) -> str:
    """Return the form lexicon phrases are matched against: normalised, kana-folded, unspaced.

    Removing spaces and punctuation defeats the simplest obfuscation (し に た い, 死・に・た・い).
    """
    return _MATCH_NOISE.sub("", to_hiragana(normalize(text)))
