"""Persistence: the database, its models, and the one place message bodies are encrypted."""
