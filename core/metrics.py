"""Process metrics (Prometheus): counts and latencies only, never text or user ids."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEBHOOK_REJECTED = Counter(
    "tsunagu_webhook_rejected_total",
    "Webhook requests refused before storage",
    ["channel", "reason"],
)
INBOX_STORED = Counter(
    "tsunagu_inbox_events_total", "Events offered to the inbox", ["channel", "result"]
)
INBOX_PROCESSED = Counter(
    "tsunagu_inbox_processed_total", "Inbox events by processing outcome", ["channel", "result"]
)
OUTBOX_RESULTS = Counter(
    "tsunagu_outbox_results_total", "Outbox delivery attempts by outcome", ["channel", "result"]
)
ACK_SECONDS = Histogram(
    "tsunagu_webhook_ack_seconds",
    "Time from request to acknowledgement",
    ["channel"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
)
PROCESS_SECONDS = Histogram(
    "tsunagu_inbox_process_seconds",
    "Time from receipt to processed",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
