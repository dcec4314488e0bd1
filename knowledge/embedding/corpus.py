"""The sentences the student is distilled on: everything Japanese the project has offline.

Sources: every text of the knowledge content (titles, phrasings, answer sentences, tags, guide
steps) and the NLU training examples, plus generated variants residents actually type —
hiragana-only readings and dictionary-form rewrites made with Sudachi. Held-out evaluation
files (``knowledge/eval``, ``nlu/eval``) and the retrieval dev set are never read here.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from knowledge.content_loader import CONTENT_DIR, Content, content_files, hash_files, load_content
from knowledge.text import dictionary_form_text, has_japanese, hiragana_reading

NLU_INTENTS_DIR = Path(__file__).resolve().parents[2] / "nlu" / "data" / "intents"
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|\n")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if len(s.strip()) > 1]


def content_texts(content: Content) -> list[str]:
    """Every sentence of the content set, in all languages."""
    texts: list[str] = []
    for faq in content.faqs:
        texts += [*faq.title.values(), *faq.tags]
        texts += [p for ps in faq.phrasings.values() for p in ps]
        texts += [s for answer in faq.answer.values() for s in _sentences(answer)]
    for guide in content.guides:
        texts += [*guide.title.values(), *guide.tags]
        texts += [p for ps in guide.phrasings.values() for p in ps]
        for steps in guide.steps.values():
            for step in steps:
                texts += [*step.text.values(), *step.simpler.values()]
    return texts


def nlu_examples(intents_dir: Path = NLU_INTENTS_DIR) -> list[str]:
    """The Rasa training examples (Japanese questions in residents' own words)."""
    examples: list[str] = []
    for path in sorted(intents_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append(line[2:].strip())
    return examples


def source_files(content_dir: Path = CONTENT_DIR, intents_dir: Path = NLU_INTENTS_DIR) -> str:
    """A hash of every input file of the corpus (part of the student's cache key)."""
    return hash_files(content_files(content_dir), content_dir) + hash_files(
        sorted(intents_dir.glob("*.yml")), intents_dir
    )


def distillation_corpus(
    content_dir: Path = CONTENT_DIR, intents_dir: Path = NLU_INTENTS_DIR
) -> list[str]:
    """Unique sentences plus their kana-only and dictionary-form variants, in a stable order."""
    base = content_texts(load_content(content_dir)) if content_files(content_dir) else []
    base += nlu_examples(intents_dir)
    seen: dict[str, None] = {}
    for text in base:
        seen.setdefault(text, None)
        if has_japanese(text):
            seen.setdefault(hiragana_reading(text), None)
            seen.setdefault(dictionary_form_text(text), None)
    return [t for t in seen if t.strip()]
