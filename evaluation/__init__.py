"""Evaluation and benchmark commands (``tsunagu eval …``, ``tsunagu bench …``)."""
