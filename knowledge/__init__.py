"""FAQ content and retrieval (built by the knowledge-base issue)."""
