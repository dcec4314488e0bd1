"""Builds (or finds in the cache) the Japanese-capable sentence-transformers student model.

Recipe (sentence-transformers' multilingual knowledge distillation, with a static student):

1. Corpus: content sentences + NLU examples + kana-only and dictionary-form variants.
2. Tokenizer: the teacher's sentencepiece unigram vocabulary rebuilt with the ``tokenizers``
   library, pruned to Japanese pieces, the most frequent pieces and every piece the corpus uses.
3. Initial vectors: each piece embedded by the teacher on its own (a piece's meaning in
   isolation), so words the corpus never shows still land near their meaning.
4. Training: ``losses.MSELoss`` between the student's sentence vector (mean of piece vectors,
   normalised) and the teacher's vector of the same sentence; sparse Adam over the table.

The result is cached under ``<cache_dir>/<key>/`` where the key hashes every input (this file
and its siblings, the teacher's version, the corpus files and the configuration), so a rerun
with unchanged inputs returns at once, and ``<cache_dir>/current`` names the latest build.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.content_loader import CONTENT_DIR
from knowledge.embedding.corpus import NLU_INTENTS_DIR, distillation_corpus, source_files
from knowledge.embedding.teacher import teacher_version

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Progress = Callable[[str], None]
_CODE_DIR = Path(__file__).resolve().parent
_CODE_FILES = (
    *sorted(_CODE_DIR.glob("*.py")),
    _CODE_DIR.parent / "text.py",
    _CODE_DIR.parent / "content_loader.py",
)
_JAPANESE_RANGES = ((0x3041, 0x30FF), (0x3400, 0x9FFF), (0xF900, 0xFAFF), (0xFF66, 0xFF9F))
UNK = "<unk>"


@dataclass(frozen=True)
class BuildConfig:
    """Student hyper-parameters (chosen on the retrieval dev set, see knowledge/README.md)."""

    top_pieces: int = 20000
    epochs: int = 10
    learning_rate: float = 0.01
    batch_size: int = 32
    seed: int = 20261121


@dataclass(frozen=True)
class ModelInfo:
    """Where a built student lives and whether this call had to build it."""

    path: Path
    key: str
    built: bool
    seconds: float


def _is_japanese(piece: str) -> bool:
    return any(lo <= ord(c) <= hi for c in piece for lo, hi in _JAPANESE_RANGES)


def model_key(
    config: BuildConfig, content_dir: Path = CONTENT_DIR, intents_dir: Path = NLU_INTENTS_DIR
) -> str:
    """A hash of every input of the build; equal keys mean an identical student."""
    digest = hashlib.sha256()
    for path in _CODE_FILES:
        digest.update(path.read_bytes())
    digest.update(teacher_version().encode())
    digest.update(source_files(content_dir, intents_dir).encode())
    digest.update(json.dumps(asdict(config), sort_keys=True).encode())
    return digest.hexdigest()[:20]


def current_model(cache_dir: Path) -> Path | None:
    """The most recent build in ``cache_dir``, if any (used by reloads: no rebuild there)."""
    pointer = cache_dir / "current"
    if not pointer.exists():
        return None
    path = cache_dir / pointer.read_text(encoding="utf-8").strip() / "model"
    return path if (path / "modules.json").exists() else None


def load_student(path: Path) -> SentenceTransformer:
    """Loads a built student from disk (never from a model hub)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from sentence_transformers import SentenceTransformer

    # One query at a time: extra intra-op threads only add hand-off cost (measured: the
    # similarity over 2.4k units took 23 ms with 2 threads on a busy host, 0.5 ms with 1).
    torch.set_num_threads(1)
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    # Rows are L2-normalised by the model's Normalize module, so dot product == cosine,
    # without re-normalising every unit vector on each query.
    model.similarity_fn_name = "dot"
    return model


def ensure_model(
    cache_dir: Path,
    *,
    content_dir: Path = CONTENT_DIR,
    intents_dir: Path = NLU_INTENTS_DIR,
    config: BuildConfig | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> ModelInfo:
    """Returns the cached student for the current inputs, building it first if needed."""
    config = config or BuildConfig()
    key = model_key(config, content_dir, intents_dir)
    target = cache_dir / key
    if (target / "model" / "modules.json").exists() and not force:
        _point_to(cache_dir, key)
        return ModelInfo(path=target / "model", key=key, built=False, seconds=0.0)
    started = time.perf_counter()
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir))
    try:
        stats = build_student(
            work / "model",
            content_dir=content_dir,
            intents_dir=intents_dir,
            config=config,
            progress=progress,
        )
        stats["seconds"] = round(time.perf_counter() - started, 1)
        (work / "build.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    _point_to(cache_dir, key)
    return ModelInfo(
        path=target / "model", key=key, built=True, seconds=time.perf_counter() - started
    )


def _point_to(cache_dir: Path, key: str) -> None:
    pointer = cache_dir / "current"
    if pointer.exists() and pointer.read_text(encoding="utf-8").strip() == key:
        return
    tmp = cache_dir / f".current-{os.getpid()}"
    tmp.write_text(key, encoding="utf-8")
    tmp.replace(pointer)


def build_student(
    out: Path,
    *,
    content_dir: Path = CONTENT_DIR,
    intents_dir: Path = NLU_INTENTS_DIR,
    config: BuildConfig | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Distils the student into ``out`` and returns build statistics."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MSELoss
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    from knowledge.embedding.teacher import teacher, teacher_pieces, teacher_vocabulary

    config = config or BuildConfig()
    say = progress or (lambda _msg: None)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    torch.set_num_threads(1)  # tiny sparse steps: more threads only add contention

    started = time.perf_counter()
    corpus = distillation_corpus(content_dir, intents_dir)
    say(f"corpus: {len(corpus)} sentences ({time.perf_counter() - started:.1f}s)")

    pieces, scores = teacher_vocabulary()
    used = teacher_pieces(corpus)
    keep = [
        i
        for i, piece in enumerate(pieces)
        if i == 0 or (i > 5 and (i < config.top_pieces or _is_japanese(piece) or piece in used))
    ]
    vocab = [(UNK if i == 0 else pieces[i], scores[i]) for i in keep]
    tokenizer = _tokenizer(vocab)
    say(f"vocabulary: {len(vocab)} pieces")

    model_teacher = teacher()
    words = [piece.replace("▁", " ").strip() for piece, _ in vocab]
    weights = model_teacher.encode(words)
    weights[0] = 0.0
    say(f"piece vectors from the teacher ({time.perf_counter() - started:.1f}s)")
    targets = torch.from_numpy(model_teacher.encode(corpus))
    say(f"teacher vectors for the corpus ({time.perf_counter() - started:.1f}s)")

    embedding = StaticEmbedding(tokenizer, embedding_weights=weights)
    embedding.embedding.sparse = True
    student = SentenceTransformer(
        modules=[embedding, Normalize()], device="cpu", similarity_fn_name="dot"
    )
    loss_fn = MSELoss(student)
    optimizer = torch.optim.SparseAdam(list(student.parameters()), lr=config.learning_rate)
    order = list(range(len(corpus)))
    student.train()
    last = 0.0
    for epoch in range(config.epochs):
        random.shuffle(order)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            features = student.preprocess([corpus[i] for i in batch])
            loss = loss_fn([features], targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()  # type: ignore[no-untyped-call]
            total += float(loss.item()) * len(batch)
        last = total / max(1, len(order))
        say(f"epoch {epoch + 1}/{config.epochs}: mse {last:.6f}")
    student.eval()
    embedding.embedding.sparse = False
    out.mkdir(parents=True, exist_ok=True)
    student.save(str(out))
    return {
        "teacher": teacher_version(),
        "corpus_sentences": len(corpus),
        "vocabulary": len(vocab),
        "dim": int(weights.shape[1]),
        "final_mse": last,
        "config": asdict(config),
    }


def _tokenizer(vocab: list[tuple[str, float]]) -> Any:
    """A ``tokenizers`` unigram tokenizer over the given pieces (NFKC, ▁ word boundaries)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return tokenizer


def unit_vectors(model: SentenceTransformer, texts: list[str]) -> np.ndarray[Any, Any]:
    """Normalised float32 sentence vectors from the student."""
    return np.asarray(
        model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=256),
        dtype=np.float32,
    )
