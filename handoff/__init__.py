"""Counselor handoff: the case queue (and, later, takeover and the counselor console)."""
