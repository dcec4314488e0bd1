"""The synthetic PII corpus is deterministic, well-labelled and covers every entity type."""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections import Counter

import pytest

from privacy.corpus import Sample, Span, generate, to_jsonl
from privacy.entities import ENTITY_TYPES


@pytest.fixture(scope="module")
def corpus() -> list[Sample]:
    return generate()


def span_text(sample: Sample, span: Span) -> str:
    return sample.text[span.start : span.end]


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", text))


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def my_number_ok(number: str) -> bool:
    if len(number) != 12:
        return False
    body, check = number[:11], int(number[11])
    total = 0
    for n in range(1, 12):
        p = int(body[-n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return check == (0 if remainder <= 1 else 11 - remainder)


def spans_of(corpus: list[Sample], entity: str) -> list[str]:
    return [span_text(s, x) for s in corpus for x in s.spans if x.entity == entity]


def test_reference_check_digits() -> None:
    assert my_number_ok("123456789018")
    assert not my_number_ok("123456789017")
    assert luhn_ok("4111111111111111")
    assert luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112")


def test_deterministic_for_a_seed() -> None:
    assert generate(300, seed=7) == generate(300, seed=7)
    assert to_jsonl(generate(300, seed=7)) == to_jsonl(generate(300, seed=7))
    assert generate(300, seed=7) != generate(300, seed=8)


def test_default_size(corpus: list[Sample]) -> None:
    assert len(corpus) >= 1000
    assert generate(0) == []


def test_offsets_in_range_and_non_empty(corpus: list[Sample]) -> None:
    for sample in corpus:
        for span in (*sample.spans, *sample.decoys):
            assert 0 <= span.start < span.end <= len(sample.text), sample
            text = span_text(sample, span)
            assert text.strip(), sample
            assert text == text.strip(), (text, sample)
        for span in sample.spans:
            assert span.entity in ENTITY_TYPES
        for span in sample.decoys:
            assert span.entity and span.entity not in ENTITY_TYPES


def test_every_entity_type_is_well_represented(corpus: list[Sample]) -> None:
    counts = Counter(span.entity for sample in corpus for span in sample.spans)
    for entity in ENTITY_TYPES:
        assert counts[entity] >= 60, (entity, counts[entity])


def test_about_thirty_percent_decoy_only(corpus: list[Sample]) -> None:
    decoy_only = [s for s in corpus if not s.spans]
    assert 0.25 <= len(decoy_only) / len(corpus) <= 0.35
    assert all(s.decoys for s in decoy_only)


def test_my_numbers_have_valid_check_digits(corpus: list[Sample]) -> None:
    numbers = spans_of(corpus, "my_number")
    assert numbers
    for text in numbers:
        assert my_number_ok(digits_of(text)), text


def test_card_numbers_pass_luhn(corpus: list[Sample]) -> None:
    numbers = spans_of(corpus, "card_number")
    assert numbers
    lengths = Counter(len(digits_of(t)) for t in numbers)
    assert set(lengths) == {15, 16}
    for text in numbers:
        assert luhn_ok(digits_of(text)), text


def test_entity_shapes(corpus: list[Sample]) -> None:
    for text in spans_of(corpus, "bank_account"):
        assert re.fullmatch(r"\d{7}", unicodedata.normalize("NFKC", text)), text
    for text in spans_of(corpus, "postal_code"):
        assert len(digits_of(text)) == 7, text
    for text in spans_of(corpus, "line_user_id"):
        assert re.fullmatch(r"U[0-9a-f]{32}", text), text
    for text in spans_of(corpus, "email"):
        assert re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", unicodedata.normalize("NFKC", text))
    for text in spans_of(corpus, "phone"):
        digits = digits_of(text)
        if unicodedata.normalize("NFKC", text).startswith("+81"):
            digits = "0" + digits[2:]
        assert digits.startswith("0"), text
        assert len(digits) == (11 if digits[:3] in {"090", "080", "070", "060", "050"} else 10) or (
            digits.startswith("0800") and len(digits) == 11
        ), text
    for text in spans_of(corpus, "birth_date"):
        assert re.search(r"\d", unicodedata.normalize("NFKC", text)), text


def test_formats_are_varied(corpus: list[Sample]) -> None:
    phones = spans_of(corpus, "phone")
    assert any(t.startswith("+81") for t in phones)
    assert any(re.search(r"[０-９]", t) for t in phones)
    assert any(re.fullmatch(r"\d{10,11}", t) for t in phones)
    assert any("（" in t or "(" in t for t in phones)
    births = spans_of(corpus, "birth_date")
    for era in ("昭和", "平成", "令和", "大正", "元年"):
        assert any(era in t for t in births), era
    assert any(re.fullmatch(r"[SHRT]\d+[./]\d+[./]\d+", t) for t in births)
    names = spans_of(corpus, "person_name")
    assert any(re.fullmatch(r"[ァ-ヶー 　]+", t) for t in names)
    assert any(re.search(r"[０-９]", t) for t in spans_of(corpus, "address"))
    kinds = Counter(span.entity for sample in corpus for span in sample.decoys)
    for kind in ("price", "event_date", "time", "order_number", "model_number", "hotline", "year"):
        assert kinds[kind] >= 20, kind
    hotlines = {span_text(s, x) for s in corpus for x in s.decoys if x.entity == "hotline"}
    assert {"188", "#9110", "0120-279-889"} <= hotlines


def test_decoys_never_overlap_spans(corpus: list[Sample]) -> None:
    for sample in corpus:
        for decoy in sample.decoys:
            for span in sample.spans:
                assert decoy.end <= span.start or span.end <= decoy.start, sample
        labelled = sorted((*sample.spans, *sample.decoys), key=lambda s: s.start)
        for left, right in itertools.pairwise(labelled):
            assert left.end <= right.start, sample


def test_every_digit_is_labelled(corpus: list[Sample]) -> None:
    for sample in corpus:
        labelled = (*sample.spans, *sample.decoys)
        covered = {i for span in labelled for i in range(span.start, span.end)}
        for i, ch in enumerate(sample.text):
            if ch.isdigit():
                assert i in covered, (ch, sample.text)


def test_jsonl_round_trip(corpus: list[Sample]) -> None:
    lines = to_jsonl(corpus).splitlines()
    assert len(lines) == len(corpus)
    for line, sample in zip(lines, corpus, strict=True):
        record = json.loads(line)
        assert set(record) == {"text", "spans", "decoys"}
        rebuilt = Sample(
            record["text"],
            tuple(Span(*x) for x in record["spans"]),
            tuple(Span(*x) for x in record["decoys"]),
        )
        assert rebuilt == sample
