"""App processes a bench starts, stops, kills and waits for (bench webhook, bench handoff)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class AppProcess:
    """One process of the app on ``port``, its output appended to ``log``."""

    port: int
    env: dict[str, str]
    log: Path
    command: list[str] = field(default_factory=list)
    serves_http: bool = True  # False for a `tsunagu worker` (no port, no /healthz)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Starts the process (readiness is awaited separately, with :func:`wait_ready`)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def cpu_seconds(self) -> float:
        """CPU time the process has used so far (user + system; Linux ``/proc``)."""
        if self.process is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, leases and connections are simply dropped."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Graceful stop (SIGTERM), then SIGKILL if it hangs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def wait_ready(url: str, timeout: float) -> None:
    """Returns once ``url``'s ``/healthz`` answers 200; RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"worker at {url} did not become ready")
