"""Text forms the retriever compares: normalised surface, dictionary forms and English words.

Residents write 「しゃしんをおくりたい」 as often as 「写真を送りたい」. Sudachi's dictionary form
(``normalized_form``) maps both to 写真/送る, so the lexical signal matches hiragana-only and
kanji spellings alike; character n-grams of the kana-folded text catch what the dictionary
does not know (new words, typos, dialect endings).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any, NamedTuple

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from nlu.normalize import matching_form, normalize, to_hiragana

# Parts of speech whose dictionary forms carry the topic; particles and endings do not.
_CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "副詞", "接頭辞", "連体詞", "代名詞"})
_SKIP_FORMS = frozenset({"為る", "居る", "有る", "成る", "事", "物", "方", "様", "所"})
_LATIN_WORD = re.compile(r"[a-z0-9][a-z0-9'+#-]*")
_HAS_JAPANESE = re.compile(r"[\u3041-\u30ff\u3400-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_KANA_ONLY = re.compile(r"[\u3041-\u30ffー]+")
# scikit-learn's list, minus words that name what residents ask about.
_ENGLISH_STOPWORDS = ENGLISH_STOP_WORDS - {"call", "bill", "fire", "find", "name", "back"}


class Morpheme(NamedTuple):
    """One Sudachi morpheme, reduced to what retrieval uses."""

    surface: str
    form: str
    pos: str
    reading: str


class _Sudachi:
    """One Sudachi tokenizer (short units) shared by all threads behind a lock."""

    def __init__(self) -> None:
        from sudachipy import Dictionary, SplitMode

        dictionary = Dictionary(dict="core")
        make = getattr(dictionary, "tokenizer", None) or dictionary.create
        self._tokenizer: Any = make(mode=SplitMode.A)
        self._lock = threading.Lock()

    def morphemes(self, text: str) -> list[Morpheme]:
        """Each morpheme's surface, dictionary form, part of speech and katakana reading."""
        with self._lock:
            return [
                Morpheme(m.surface(), m.normalized_form(), m.part_of_speech()[0], m.reading_form())
                for m in self._tokenizer.tokenize(text)
            ]


@lru_cache(maxsize=1)
def sudachi() -> _Sudachi:
    """The process's Sudachi tokenizer (loading the dictionary takes ~0.1 s)."""
    return _Sudachi()


def has_japanese(text: str) -> bool:
    """True if the text contains kana or kanji (so it is not an English-only query)."""
    return bool(_HAS_JAPANESE.search(text))


def content_words(text: str) -> list[str]:
    """Dictionary forms of the content words of a Japanese text (写真, 送る, 文字, 大きい)."""
    if not has_japanese(text):
        return []
    return [
        m.form
        for m in sudachi().morphemes(normalize(text))
        if m.pos in _CONTENT_POS and m.form not in _SKIP_FORMS and has_japanese(m.form)
    ]


def english_words(text: str) -> list[str]:
    """Lower-cased Latin words without stop words, with a light plural/verb-ending fold."""
    words = []
    for word in _LATIN_WORD.findall(normalize(text)):
        if word in _ENGLISH_STOPWORDS:
            continue
        for suffix in ("ing", "es", "s", "ed"):
            if len(word) > len(suffix) + 3 and word.endswith(suffix):
                word = word[: -len(suffix)]
                break
        words.append(word)
    return words


def char_ngrams(text: str, sizes: tuple[int, ...] = (2, 3)) -> list[str]:
    """Character n-grams of the kana-folded, punctuation-free form (Japanese parts only)."""
    form = matching_form(text)
    grams: list[str] = []
    for n in sizes:
        grams.extend(form[i : i + n] for i in range(len(form) - n + 1))
    return [g for g in grams if has_japanese(g)]


def dictionary_form_text(text: str) -> str:
    """The text with kana-only nouns written in kanji (しゃしんをおくりたい → 写真をおくりたい).

    Used as a second view for the dense encoder, which has seen kanji far more often than
    hiragana-only spellings. Only nouns are replaced: they do not conjugate.
    """
    if not has_japanese(text):
        return text
    return "".join(
        m.form if m.pos == "名詞" and _KANA_ONLY.fullmatch(m.surface) else m.surface
        for m in sudachi().morphemes(normalize(text))
    )


def hiragana_reading(text: str) -> str:
    """The text as a resident typing kana only would write it (写真を送る → しゃしんをおくる)."""
    return to_hiragana(
        "".join(
            m.reading if has_japanese(m.surface) and m.reading else m.surface
            for m in sudachi().morphemes(text)
        )
    )
