r"""Japanese PII redaction for every place free text must leave the encrypted transcript.

Text is normalised first (NFKC folds ０９０ and ＠; hyphen-like characters between digits
become '-'), then matched with digit look-arounds — ``\b`` fails next to kanji, so
``電話090-1234-5678です`` would slip past it. Numbers with checksums (My Number, cards) are
validated so prices and order numbers are left alone. Findings carry offsets into the
original text, so the caller's text is redacted in place. Fail closed: :func:`redact_or_drop`
returns a placeholder instead of the raw text if anything goes wrong.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
DROPPED = "[削除: 個人情報の確認に失敗]"

_HYPHENS = "-‐‑‒–—―−ーｰ－─━"
_HYPHEN_BETWEEN_DIGITS = re.compile(rf"(?<=\d)[{_HYPHENS}](?=\s?\d)")
_D = r"(?<!\d)"  # digit look-behind: no digit directly before
_E = r"(?!\d)"  # digit look-ahead: no digit directly after


@dataclass(frozen=True)
class Finding:
    """One piece of PII: offsets into the original (not normalised) text."""

    start: int
    end: int
    entity: str


@dataclass(frozen=True)
class Normalised:
    """Normalised text with, for each of its characters, where it came from in the original."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Maps a normalised span back to the original text."""
        return self.starts[start], self.ends[end - 1]


_SOUND_MARKS = {"\u3099", "\u309a"}  # combining (han)dakuten left by half-width ﾞ/ﾟ


def normalise(text: str) -> Normalised:
    """NFKC character by character (keeping offsets), then hyphens between digits → '-'.

    Half-width ｶﾞ is two characters that NFKC composes only as a pair; the sound mark is
    folded into the previous character so 名義ｳｴﾀﾞ ﾊﾙﾄ reads as ウエダ ハルト.
    """
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for index, char in enumerate(text):
        for folded in unicodedata.normalize("NFKC", char):
            if folded in _SOUND_MARKS and chars:
                chars[-1] = unicodedata.normalize("NFC", chars[-1] + folded)
                ends[-1] = index + 1
                continue
            chars.append(folded)
            starts.append(index)
            ends.append(index + 1)
    folded_text = _HYPHEN_BETWEEN_DIGITS.sub("-", "".join(chars))
    return Normalised(folded_text, tuple(starts), tuple(ends))


def my_number_is_valid(digits: str) -> bool:
    """The My Number check digit (個人番号の検査用数字) over 12 digits."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = [int(c) for c in reversed(digits[:11])]  # p1 is the rightmost of the 11
    # q_n = n + 1 for n = 1..6 and n - 5 for n = 7..11 (n counted from 1, from the right).
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(body, start=1))
    remainder = total % 11
    check = 0 if remainder <= 1 else 11 - remainder
    return check == int(digits[11])


def luhn_is_valid(digits: str) -> bool:
    """The Luhn checksum used by payment cards."""
    if not digits.isdigit() or not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@lru_cache(maxsize=1)
def _public_numbers() -> frozenset[str]:
    data = yaml.safe_load((DATA_DIR / "public_numbers.yml").read_text(encoding="utf-8"))
    return frozenset(_digits(str(n)) for n in data["numbers"])


@lru_cache(maxsize=1)
def _not_names() -> tuple[tuple[str, ...], frozenset[str], tuple[str, ...]]:
    """(words a name may not end with, may not be exactly, may not contain).

    An ``=`` line is exact-only: 「子」 must not end a name, or 和子 and 洋子 would never be
    redacted, but 「子さん」 alone is not a name. A ``~`` line is a word no name contains
    (母の「介護保険」の申請 is not a relative called 介護保険).
    """
    lines = (DATA_DIR / "not_names.txt").read_text(encoding="utf-8").splitlines()
    words = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    endings = tuple(w for w in words if w[0] not in "=~")
    exact = frozenset(w[1:] for w in words if w.startswith("="))
    parts = tuple(w[1:] for w in words if w.startswith("~"))
    return endings, exact, parts


@lru_cache(maxsize=1)
def _surnames() -> tuple[str, ...]:
    lines = (DATA_DIR / "surnames.txt").read_text(encoding="utf-8").splitlines()
    names = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return tuple(sorted(names, key=len, reverse=True))


# --- patterns -------------------------------------------------------------------------------
_SEP = r"[\s\-()（）]?"
_PHONE = re.compile(
    rf"{_D}(?:\+81{_SEP}\(?0?\d{{1,4}}\)?|\(?0\d{{1,4}}\)?){_SEP}\d{{1,4}}{_SEP}\d{{3,4}}{_E}"
)
_POSTAL = re.compile(
    rf"(?:〒\s?|(?:郵便番号|postal code|zip code|zip)\s?[:は]?\s?)\d{{3}}-?\d{{4}}{_E}"
    rf"|{_D}(?<!-)\d{{3}}-\d{{4}}{_E}(?!-)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+\s?@\s?[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_LINE_ID = re.compile(r"(?<![0-9A-Za-z])U[0-9a-f]{32}(?![0-9A-Za-z])")
_CARD = re.compile(rf"{_D}(?:\d[\s\-]?){{12,18}}\d{_E}")
_MY_NUMBER = re.compile(rf"{_D}\d{{4}}[\s\-]?\d{{4}}[\s\-]?\d{{4}}{_E}")
_BANK = re.compile(
    rf"(?:口座|普通|当座|預金|支店|account)[^\d\n]{{0,12}}?{_D}(?P<number>\d{{7}}){_E}",
    re.IGNORECASE,
)
_ERA = r"(?:明治|大正|昭和|平成|令和|[MTSHRmtshr])"
_DATE = (
    rf"(?:{_ERA}\s?(?:\d{{1,2}}|元)\s?[年./\-]\s?\d{{1,2}}\s?[月./\-]\s?\d{{1,2}}日?"
    rf"|{_D}(?:19|20)\d{{2}}\s?[年./\-]\s?\d{{1,2}}\s?[月./\-]\s?\d{{1,2}}日?{_E}"
    rf"|{_D}\d{{1,2}}[./\-]\d{{1,2}}[./\-](?:19|20)\d{{2}}{_E})"
)
_DATE_RE = re.compile(_DATE)
_BIRTH_CONTEXT = re.compile(r"生年月日|生まれ|誕生日|たんじょうび|うまれ|born|birth|dob", re.I)
# Context after the date only counts when it follows at once (1980年3月2日生まれ, (1969/4/24生)):
# a "born" in the next sentence belongs to another date.
_BIRTH_AFTER = re.compile(r"^\s?[)）]?\s?(?:生|うまれ|born)", re.I)
_OLD_ERA = re.compile(r"^(?:明治|大正|昭和|[MTSmts])")
_PREFECTURE = r"(?:北海道|東京都|京都府|大阪府|[一-龥]{2,3}県)"
_H = "[-‐‑‒–—―−ーｰ－]"
_NUM = r"(?:\d{1,4}|[一二三四五六七八九十]{1,3})"
_BUILDING = r"[A-Za-z一-龥ぁ-んァ-ヶー]{1,14}"
_ADDRESS = re.compile(
    rf"(?:{_PREFECTURE}\s?)?[一-龥ヶ]{{1,5}}?[市区町村郡]"
    rf"(?:[一-龥ヶ]{{1,5}}?[市区郡])?"
    rf"[一-龥ぁ-んァ-ヶー]{{0,10}}?\s?{_NUM}\s?(?:丁目|番地?|{_H})"
    rf"(?:\s?(?:{_H}|の)?\s?\d{{1,4}}\s?(?:番地?|号|{_H})?){{0,3}}"
    rf"(?:[\s　]?{_BUILDING}\s?\d{{1,4}}\s?(?:棟\s?\d{{1,4}}\s?)?(?:号室|号)?)?"
)
_KANA_NAME = r"[一-龥々ぁ-んァ-ヶー]"
# A given name after a surname or relation word: kanji, hiragana or katakana.
_GIVEN = r"(?:[一-龥々]{1,3}|[ぁ-ん]{2,4}|[ァ-ヶー]{2,5})"
_KATAKANA_FULL_NAME = re.compile(r"(?P<name>[ァ-ヶ][ァ-ヶー]{1,6}[\s　][ァ-ヶ][ァ-ヶー]{1,6})")
_HUMBLE = "と申します|といいます|と言います"
_FULL_NAME = rf"{_KANA_NAME}{{1,8}}(?:[\s　]{_KANA_NAME}{{1,8}})?"
# Self-introductions without 私は: 「ヨコヤマカオリと申します」「先ほど電話したイケダです」.
_SELF_INTRO = re.compile(
    rf"(?P<name>[ァ-ヶ][ァ-ヶー]{{1,9}}(?:[\s　][ァ-ヶ][ァ-ヶー]{{1,9}})?"
    rf"|[ぁ-ん]{{2,6}}[\s　][ぁ-ん]{{2,6}}|{_KANA_NAME}{{2,8}}?(?={_HUMBLE}))"
    rf"(?={_HUMBLE}|です)"
)
_ENGLISH_INTRO = re.compile(
    rf"(?:this is|i am|i'm|my name is|my (?:husband|wife|son|daughter|partner|boyfriend|"
    rf"girlfriend|mother|father|mom|dad))\s(?P<name>{_FULL_NAME})",
    re.I,
)
_NAME_FIELD = re.compile(
    rf"(?:氏名|名前|なまえ|名義|name|宛名)\s?[:：は]?\s?(?P<name>{_FULL_NAME})",
    re.I,
)
_NAME_INTRO = re.compile(
    rf"(?:私は|わたしは|僕は|ぼくは|俺は|うちは|名前は|なまえは|氏名は|本名は|my name is\s)"
    rf"\s?(?P<name>{_KANA_NAME}{{1,8}}?(?:[\s　]{_KANA_NAME}{{1,8}}?)?)"
    rf"(?=です|といいます|と申します|と言います|だよ|だ。|。|、|$)",
    re.I,
)
_HONORIFIC = re.compile(
    rf"(?P<name>[一-龥々]{{1,4}}(?:\s?{_KANA_NAME}{{1,4}})?|[ァ-ヶー]{{2,8}})"
    rf"(?=さん|くん|君|ちゃん|様|さま|氏|先生)"
)
_RELATION = re.compile(
    rf"(?:夫|妻|主人|旦那|息子|娘|彼氏|彼女|元彼|元夫|担当|祖母|祖父|母|父|姉|兄|弟|妹|孫|友達|友人)の"
    rf"(?P<name>[一-龥々]{{1,4}}(?:\s?{_KANA_NAME}{{1,3}})?|[ぁ-ん]{{2,5}}|[ァ-ヶー]{{2,8}})"
    rf"(?=が|は|に|から|と|を|の|さん|くん|、|。|$)"
)


def _spans(
    pattern: re.Pattern[str], text: str, keep: Callable[[re.Match[str]], bool] | None = None
) -> Iterator[tuple[int, int]]:
    for match in pattern.finditer(text):
        if keep is None or keep(match):
            yield match.start(), match.end()


def _phone_ok(match: re.Match[str]) -> bool:
    digits = _digits(match.group())
    if digits in _public_numbers():
        return False
    if digits.startswith("81"):
        return 9 <= len(digits) - 2 <= 11
    return 10 <= len(digits) <= 11


_CARD_CONTEXT = re.compile(r"カード|かーど|クレジット|card|visa|master|amex|jcb", re.I)


def _card_ok(match: re.Match[str], text: str) -> bool:
    digits = _digits(match.group())
    if not luhn_is_valid(digits):
        return False
    if len(digits) in (15, 16):
        return True
    # 13/14/17-19 digits are mostly barcodes and order numbers; need a card word nearby.
    return bool(_CARD_CONTEXT.search(text[max(0, match.start() - 20) : match.start()]))


def _my_number_spans(text: str) -> Iterator[tuple[int, int]]:
    return _spans(_MY_NUMBER, text, lambda m: my_number_is_valid(_digits(m.group())))


def _find_normalised(text: str) -> list[tuple[int, int, str]]:
    """All findings on normalised text, possibly overlapping (see :func:`_merge`)."""
    found: list[tuple[int, int, str]] = []
    found += [(s, e, "line_user_id") for s, e in _spans(_LINE_ID, text)]
    found += [(s, e, "email") for s, e in _spans(_EMAIL, text)]
    found += [(s, e, "my_number") for s, e in _my_number_spans(text)]
    found += [(s, e, "card_number") for s, e in _spans(_CARD, text, lambda m: _card_ok(m, text))]
    found += [(s, e, "phone") for s, e in _spans(_PHONE, text, _phone_ok)]
    found += [(s, e, "postal_code") for s, e in _spans(_POSTAL, text)]
    found += [(m.start("number"), m.end("number"), "bank_account") for m in _BANK.finditer(text)]
    for match in _DATE_RE.finditer(text):
        before = text[max(0, match.start() - 15) : match.start()]
        after = text[match.end() : match.end() + 6]
        if (
            _BIRTH_CONTEXT.search(before)
            or _BIRTH_AFTER.search(after)
            or _OLD_ERA.match(match.group())
        ):
            found.append((match.start(), match.end(), "birth_date"))
    found += [(s, e, "address") for s, e in _spans(_ADDRESS, text)]
    found += _names(text)
    return found


def _names(text: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    not_name_endings, not_names, not_name_parts = _not_names()
    patterns = (
        _NAME_INTRO,
        _HONORIFIC,
        _RELATION,
        _NAME_FIELD,
        _KATAKANA_FULL_NAME,
        _SELF_INTRO,
        _ENGLISH_INTRO,
    )
    for pattern in patterns:
        for match in pattern.finditer(text):
            name = match.group("name").strip()
            # endswith covers exact matches too (お母, 相談員 …).
            if (
                name
                and name not in not_names
                and not name.endswith(not_name_endings)
                and not any(part in name for part in not_name_parts)
            ):
                found.append((match.start("name"), match.end("name"), "person_name"))
    for surname in _surnames():
        for match in re.finditer(rf"{re.escape(surname)}(?:[\s　]?{_GIVEN})?", text):
            found.append((match.start(), match.end(), "person_name"))
    return found


def _merge(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Joins overlapping findings into one that covers them all.

    The label is that of the finding starting first (the longest, on a tie): what matters
    for privacy is that every character is covered, not which label wins.
    """
    merged: list[tuple[int, int, str]] = []
    for start, end, entity in sorted(found, key=lambda f: (f[0], -(f[1] - f[0]))):
        if merged and start < merged[-1][1]:
            last_start, last_end, last_entity = merged[-1]
            merged[-1] = (last_start, max(last_end, end), last_entity)
        else:
            merged.append((start, end, entity))
    return merged


def find_pii(text: str) -> list[Finding]:
    """Every PII finding in ``text``, with offsets into ``text`` itself."""
    norm = normalise(text)
    return [
        Finding(*norm.span(start, end), entity)
        for start, end, entity in _merge(_find_normalised(norm.text))
    ]


def _replace(text: str, findings: list[Finding]) -> str:
    """Replaces each (non-overlapping) finding with ``[entity]``."""
    out = text
    for finding in sorted(findings, key=lambda f: f.start, reverse=True):
        out = f"{out[: finding.start]}[{finding.entity}]{out[finding.end :]}"
    return out


def redact(text: str) -> str:
    """Replaces each finding with ``[entity]`` (e.g. ``[phone]``)."""
    return _replace(text, find_pii(text))


def mask_my_numbers(text: str) -> str:
    """Masks only valid My Numbers (before anything is stored, transcript included)."""
    norm = normalise(text)
    findings = [Finding(*norm.span(s, e), "my_number") for s, e in _my_number_spans(norm.text)]
    return _replace(text, findings)


def redact_with_findings(text: str) -> tuple[str, list[Finding]]:
    """Fail closed: the redacted text and its findings, or a placeholder and no findings."""
    try:
        findings = find_pii(text)
        return _replace(text, findings), findings
    except Exception as exc:  # any failure must not let raw text through
        logger.error("redaction failed: %s", type(exc).__name__)
        return DROPPED, []


def redact_or_drop(text: str) -> str:
    """Fail closed: the redacted text, or a placeholder if redaction itself failed."""
    return redact_with_findings(text)[0]
