"""The conversation engine: safety assessment, escalation policy and replies.

Channel-agnostic: nothing here imports FastAPI or the LINE SDK (see ``bot/types.py``).
"""
