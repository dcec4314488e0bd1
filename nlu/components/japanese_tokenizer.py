"""Rasa tokenizer for Japanese: normalise, then split with SudachiPy.

Rasa's WhitespaceTokenizer refuses Japanese (no spaces between words). This component first
applies :func:`nlu.normalize.normalize` (the same normaliser as the app's safety layer), then
segments with Sudachi. Each token's ``lemma`` carries a normalised form chosen by
``lemma_form``; with the default, the hiragana reading, so 死にたい, しにたい and シニタイ give
the same word features to a featurizer configured with ``use_lemma: true``.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from nlu.normalize import normalize, to_hiragana

_SKIPPED_POS = {"空白"}
_LEMMA_FORMS = ("reading", "normalized", "dictionary", "surface")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class JapaneseTokenizer(Tokenizer):
    """Sudachi-based tokenizer with Tsunagu's Japanese normalisation."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Returns the component's default config."""
        return {
            # Sudachi split mode: "A" (short units), "B" (middle) or "C" (named-entity length).
            "split_mode": "C",
            # What goes into Token.lemma: "reading" (hiragana reading, folds script
            # differences), "normalized" (Sudachi's normalised form, folds spelling variants),
            # "dictionary" (dictionary form, folds inflection) or "surface".
            "lemma_form": "reading",
            # Tokenizer base-class options; Tsunagu's intents are single words, never split.
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            # Optional regex to split tokens further (Tokenizer base-class option).
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        """Japanese only; English messages from foreign residents still tokenize fine."""
        return ["ja"]

    @staticmethod
    def required_packages() -> list[str]:
        """Python packages the component imports."""
        return ["sudachipy", "sudachidict_core"]

    def __init__(self, config: dict[str, Any]) -> None:
        """Validates the config and builds the Sudachi tokenizer once."""
        super().__init__(config)
        from sudachipy import Dictionary, SplitMode

        lemma_form = config.get("lemma_form", "reading")
        if lemma_form not in _LEMMA_FORMS:
            raise ValueError(
                f"JapaneseTokenizer: lemma_form must be one of {_LEMMA_FORMS}, got {lemma_form!r}"
            )
        mode_name = str(config.get("split_mode", "C")).upper()
        if mode_name not in ("A", "B", "C"):
            raise ValueError(f"JapaneseTokenizer: split_mode must be A, B or C, got {mode_name!r}")
        self._lemma_form = lemma_form
        self._sudachi = Dictionary(dict="core").create(mode=getattr(SplitMode, mode_name))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> JapaneseTokenizer:
        """Creates the component (see the Rasa GraphComponent docs)."""
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokenizes the normalised text; offsets refer to the normalised text."""
        text = normalize(message.get(attribute) or "")
        tokens = [
            Token(
                text=m.surface(),
                start=m.begin(),
                end=m.end(),
                lemma=self._lemma(m),
            )
            for m in self._sudachi.tokenize(text)
            if m.part_of_speech()[0] not in _SKIPPED_POS and m.surface().strip()
        ]
        if not tokens and text:
            tokens = [Token(text=text, start=0)]
        return self._apply_token_pattern(tokens)

    def _lemma(self, morpheme: Any) -> str:
        surface: str = morpheme.surface()
        if self._lemma_form == "surface":
            return surface
        if self._lemma_form == "normalized":
            return str(morpheme.normalized_form())
        if self._lemma_form == "dictionary":
            return str(morpheme.dictionary_form())
        reading = str(morpheme.reading_form())
        # Latin text (English from foreign residents) keeps its spelling; Sudachi's katakana
        # reading of English words would only blur it. Unknown words have no reading.
        if surface.isascii() or not reading or morpheme.is_oov():
            return to_hiragana(surface)
        return to_hiragana(reading)
