"""BM25 over Sudachi dictionary forms, character n-grams (of text and reading), English words.

A sparse document-term matrix (scikit-learn's vectoriser, SciPy's CSR) holds the BM25 weight of
every term in every text, so a query costs one sparse product. Scores are divided by the best
score the query's own terms could reach (each term's ``idf * (k1 + 1)``), which keeps them in
[0, 1] and comparable across queries: the fusion and the confidence threshold rely on that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from knowledge.text import (
    char_ngrams,
    content_words,
    english_words,
    has_japanese,
    hiragana_reading,
)

Analyzer = Callable[[str], list[str]]


@dataclass(frozen=True)
class LexicalConfig:
    """Which term kinds to index and BM25's two constants."""

    words: bool = True
    chars: bool = True
    char_sizes: tuple[int, ...] = (2, 3)
    # Character n-grams of the hiragana reading too: すまほのじ matches スマホの字.
    readings: bool = False
    k1: float = 1.2
    b: float = 0.5

    def analyzer(self) -> Analyzer:
        """The function turning a text into its list of terms (prefixed by kind)."""

        def analyze(text: str) -> list[str]:
            terms: list[str] = []
            if self.words:
                terms.extend("w:" + w for w in content_words(text))
                terms.extend("e:" + w for w in english_words(text))
            if self.chars:
                terms.extend("c:" + g for g in char_ngrams(text, self.char_sizes))
            if self.readings and has_japanese(text):
                reading = hiragana_reading(text)
                terms.extend("r:" + g for g in char_ngrams(reading, self.char_sizes))
            return terms

        return analyze


class Bm25Index:
    """BM25 scores of a query against a fixed list of texts."""

    def __init__(self, texts: Sequence[str], config: LexicalConfig) -> None:
        self.config = config
        self._vectorizer = CountVectorizer(analyzer=config.analyzer(), dtype=np.float32)
        counts = self._vectorizer.fit_transform(list(texts)).tocsr().astype(np.float32)
        n_docs = counts.shape[0]
        doc_freq = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float32)
        self._idf = np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5)).astype(np.float32)
        self._max_idf = float(np.log1p((n_docs + 0.5) / 0.5))
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        avg = float(lengths.mean()) if n_docs and lengths.mean() > 0 else 1.0
        norm = config.k1 * (1.0 - config.b + config.b * lengths / avg)
        tf = counts.data
        rows = np.repeat(np.arange(n_docs), np.diff(counts.indptr))
        counts.data = (
            self._idf[counts.indices] * tf * (config.k1 + 1.0) / (tf + norm[rows])
        ).astype(np.float32)
        # Stored transposed: one query's term columns become contiguous rows.
        self._weights_t = sparse.csr_matrix(counts.T)

    def scores(self, query: str) -> NDArray[np.float32]:
        """Normalised BM25 of ``query`` against every text, each in [0, 1]."""
        vocabulary = self._vectorizer.vocabulary_
        query_terms = set(self.config.analyzer()(query))
        terms = sorted(vocabulary[t] for t in query_terms if t in vocabulary)
        n_texts = self._weights_t.shape[1]
        if not terms:
            return np.zeros(n_texts, dtype=np.float32)
        # Terms no text contains count as the rarest term would: they are evidence against.
        unseen = len(query_terms) - len(terms)
        best_possible = (float(self._idf[terms].sum()) + unseen * self._max_idf) * (
            self.config.k1 + 1.0
        )
        total = np.asarray(self._weights_t[terms].sum(axis=0)).ravel()
        return (total / best_possible).astype(np.float32)
