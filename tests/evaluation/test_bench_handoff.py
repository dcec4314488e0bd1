"""``tsunagu bench handoff`` end to end, small: 2 worker processes on real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from evaluation.bench_handoff import COUNSELOR_REPLIES, passed, run_bench


async def test_small_handoff_bench_keeps_the_invariants(tmp_path: Path, postgres_url: str) -> None:
    report = await run_bench(
        residents=6,
        counselors=2,
        escalate_share=0.5,
        database_url=postgres_url,
        work_dir=tmp_path,
        max_seconds=90,
    )
    assert report["errors"] == {}
    assert report["residents_finished"] == 6
    # Three residents wrote something that needs a person: three cases, each claimed once.
    assert report["residents_escalated"] == report["cases"] == report["cases_claimed"] == 3
    assert report["bot_messages_after_claim"] == {"db": 0, "received": 0}
    assert report["double_claims"] == {"responses": 0, "db": 0, "holder_mismatch": 0}
    assert report["claim_other_statuses"] == {}
    # Every counselor message reached its resident over the socket, once.
    sent = report["counselor_messages_sent"]
    assert sent == report["counselor_messages_received"] == 3 * len(COUNSELOR_REPLIES)
    assert report["duplicate_pushes"] == 0
    assert report["counselor_reply_latency_ms"]["n"] == sent
    # Each case reached the live queue of at least its claimer.
    assert report["notification_latency_ms"]["n"] >= 3
    assert passed(report)
