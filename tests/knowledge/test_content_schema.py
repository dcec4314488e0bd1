"""The real content loads under the schema, and every phone number in it is a published one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from knowledge.content_loader import CONTENT_DIR, ContentError, load_content
from knowledge.types import FaqEntry, Guide
from nlu.service import REPO_ROOT

REQUIREMENTS = REPO_ROOT.parent / "shared" / "docs" / "requirements.md"
HOTLINES = REPO_ROOT / "bot" / "content" / "hotlines.yml"
# "#8008", "0120-279-889", and stand-alone 1xx numbers (110, 188…) not followed by a unit.
PHONE = re.compile(
    r"#\d{3,5}|0\d{1,4}[-ー－]\d{1,4}[-ー－]\d{3,4}|(?<![\d.,])1\d\d(?![\d.,%％\u4e00-\u9fff])"
)
FIXTURE_CONTENT = Path(__file__).resolve().parent / "fixtures" / "content"


def published_numbers() -> set[str]:
    hotlines = yaml.safe_load(HOTLINES.read_text(encoding="utf-8"))["hotlines"]
    numbers = {str(h["number"]) for h in hotlines}
    if REQUIREMENTS.exists():
        section = REQUIREMENTS.read_text(encoding="utf-8").split("## 5.")[1]
        numbers |= set(re.findall(r"#\d{4}|0120-\d{3}-\d{3}|\b1[18][089]\b|\b189\b", section))
    return numbers


def texts_of(doc: FaqEntry | Guide) -> list[str]:
    texts = [*doc.title.values(), *(p for ps in doc.phrasings.values() for p in ps)]
    if isinstance(doc, FaqEntry):
        texts += list(doc.answer.values())
    else:
        for steps in doc.steps.values():
            for step in steps:
                texts += [*step.text.values(), *step.simpler.values()]
    return texts


def test_real_content_loads() -> None:
    content = load_content(CONTENT_DIR)
    assert content.faqs, "knowledge/content/faq has no entries"
    ids = [f.entry_id for f in content.faqs] + [g.guide_id for g in content.guides]
    assert len(ids) == len(set(ids))
    docs: list[FaqEntry | Guide] = [*content.faqs, *content.guides]
    for doc in docs:
        assert len(doc.phrasings["ja"]) >= 3, doc
    for guide in content.guides:
        assert set(guide.steps) in ({"any"}, {"android", "iphone"}), guide.guide_id


def test_every_phone_number_in_content_is_published() -> None:
    content = load_content(CONTENT_DIR)
    allowed = published_numbers()
    docs: list[FaqEntry | Guide] = [*content.faqs, *content.guides]
    found = {
        (getattr(doc, "entry_id", None) or getattr(doc, "guide_id", ""), re.sub("[ー－]", "-", n))
        for doc in docs
        for text in texts_of(doc)
        for n in PHONE.findall(text)
    }
    unknown = sorted((doc_id, n) for doc_id, n in found if n not in allowed)
    assert not unknown, f"numbers not in requirements §5 or hotlines.yml: {unknown}"


def test_phone_pattern_finds_numbers_and_skips_amounts() -> None:
    text = "188に 電話。#8008 や 0120-279-889 も。100円、176条、2024年"
    assert PHONE.findall(text) == ["188", "#8008", "0120-279-889"]


def _write(content_dir: Path, relative: str, data: object) -> None:
    (content_dir / relative).write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def _entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": "test.entry",
        "intent": "consumer_trouble",
        "tags": ["テスト"],
        "title": {"ja": "テスト"},
        "answer": {"ja": "こたえ"},
        "phrasings": {"ja": ["一", "二", "三"]},
        "source": "test",
        "last_reviewed": "2026-11-21",
    }
    entry.update(changes)
    return entry


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_entry(phrasings={"ja": ["一", "二"]}), "phrasings.ja"),
        (_entry(intent="weather"), "unknown intent"),
        (_entry(id="Bad Id"), "id"),
        (_entry(extra_field=1), "extra_field"),
        (_entry(answer={"ja": "a", "en": "b"}), "phrasings.en"),
        (_entry(last_reviewed="soon"), "last_reviewed"),
    ],
)
def test_invalid_entry_is_reported_with_file_and_id(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    shutil.copytree(FIXTURE_CONTENT, tmp_path / "c")
    _write(tmp_path / "c", "faq/broken.yml", {"entries": [entry]})
    with pytest.raises(ContentError) as info:
        load_content(tmp_path / "c")
    assert "broken.yml" in str(info.value)
    assert message in str(info.value)


def test_duplicate_ids_across_files_are_refused(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE_CONTENT, tmp_path / "c")
    _write(tmp_path / "c", "faq/dup.yml", {"entries": [_entry(id="dv.consult_where")]})
    with pytest.raises(ContentError, match=r"dv\.consult_where is already used"):
        load_content(tmp_path / "c")


@pytest.mark.parametrize(
    "steps",
    [
        {"android": [{"text": {"ja": "a"}, "simpler": {"ja": "b"}}]},
        {
            "any": [{"text": {"ja": "a"}, "simpler": {"ja": "b"}}],
            "iphone": [{"text": {"ja": "a"}, "simpler": {"ja": "b"}}],
        },
        {"any": [{"text": {"ja": "a"}}]},
    ],
)
def test_guide_steps_need_any_or_both_platforms(tmp_path: Path, steps: object) -> None:
    shutil.copytree(FIXTURE_CONTENT, tmp_path / "c")
    guide = _entry(id="test.guide", intent="smartphone_help", steps=steps)
    del guide["answer"]
    _write(tmp_path / "c", "guides/test.guide.yml", guide)
    with pytest.raises(ContentError, match=r"test\.guide\.yml: guide test\.guide"):
        load_content(tmp_path / "c")


def test_every_guide_step_is_written_in_japanese_and_english() -> None:
    """A resident writing in English gets English steps, so no step may lack either language."""
    content = load_content(CONTENT_DIR)
    missing = [
        f"{guide.guide_id} {platform} step {n} {part}"
        for guide in content.guides
        for platform, steps in guide.steps.items()
        for n, step in enumerate(steps, start=1)
        for part, texts in (("text", step.text), ("simpler", step.simpler))
        if set(texts) != {"ja", "en"} or not all(t.strip() for t in texts.values())
    ]
    assert not missing, f"guide steps without both ja and en: {missing}"
    for guide in content.guides:
        assert guide.title.get("en"), guide.guide_id


def test_english_step_texts_are_english_and_plain() -> None:
    """English texts are mostly English (a quoted Japanese label may help) and stay short."""
    content = load_content(CONTENT_DIR)
    for guide in content.guides:
        for steps in guide.steps.values():
            for step in steps:
                for texts in (step.text, step.simpler):
                    english = texts["en"]
                    latin = len(re.findall(r"[A-Za-z]", english))
                    japanese = len(re.findall(r"[\u3040-\u30ff\u3400-\u9fff]", english))
                    assert len(english) <= 200, (guide.guide_id, english)
                    assert latin >= japanese and latin >= 6, (guide.guide_id, english)
