"""`tsunagu retention run` and `tsunagu erase` as real processes on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from storage.crypto import Keyring, generated_master_key_spec
from storage.db import Database, utcnow
from storage.models import AuditRecord
from storage.transcript import Transcript
from tests.privacy.seed import seed_conversation

TSUNAGU = Path(sys.executable).parent / "tsunagu"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TSUNAGU), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def last_json(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


async def test_retention_run_and_erase_commands(tmp_path: Path) -> None:
    spec = generated_master_key_spec()
    env = {"TSUNAGU_DATA_DIR": str(tmp_path), "TSUNAGU_MASTER_KEY": spec}
    database = Database(f"sqlite:///{tmp_path / 'tsunagu.db'}")
    database.migrate()
    transcript = Transcript(Keyring.parse(spec))
    now = utcnow()
    expired = await seed_conversation(database, transcript, last_activity=now - timedelta(days=400))
    fresh = await seed_conversation(database, transcript, last_activity=now - timedelta(days=3))

    first = last_json(run(["retention", "run", "--json"], env))
    assert (first["shredded"], first["cases_closed"], first["dry_run"]) == (1, 1, False)
    second = last_json(run(["retention", "run", "--json"], env))
    assert (second["shredded"], second["cases_closed"]) == (0, 0)

    erased = last_json(
        run(
            [
                "erase",
                "--conversation",
                fresh.conversation_id,
                "--reason",
                "operator.request",
                "--actor",
                "operator:test",
                "--json",
            ],
            env,
        )
    )
    assert erased["already_erased"] is False and erased["cases_closed"] == 1
    missing = run(["erase", "--conversation", "nope", "--reason", "operator.request"], env)
    assert missing.returncode == 1 and "no conversation" in missing.stderr

    async with database.sessions() as s:
        audits = (await s.execute(select(AuditRecord.conversation_id, AuditRecord.actor))).all()
    assert sorted(audits) == sorted(
        [
            (expired.conversation_id, "system:retention"),
            (fresh.conversation_id, "operator:test"),
        ]
    )
    await database.dispose()
