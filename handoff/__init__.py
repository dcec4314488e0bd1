"""Counselor handoff: queue, pools and hours, case ownership, messages, notes and accounts.

Dependencies point channels → bot → handoff → storage: handoff returns what must be delivered
(outbox ids, web frames) and the channel layer delivers it.
"""
