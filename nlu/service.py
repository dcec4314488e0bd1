"""Training and running the Rasa NLU service from the app's side (subprocesses only).

Rasa lives in its own Python 3.10 venv (``nlu/.venv``) because its pins conflict with the
app's. Models are cached under the data directory, named by a hash of everything that
shapes them (config, training data, custom components, pinned requirements), so a rerun
with nothing changed trains nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from core.logging import log_event
from nlu.errors import NluSetupError

logger = logging.getLogger(__name__)

NLU_DIR = Path(__file__).resolve().parent
REPO_ROOT = NLU_DIR.parent
RASA_VENV = NLU_DIR / ".venv"
TSUNAGU_CONFIG = NLU_DIR / "config.yml"
BASELINE_CONFIG = NLU_DIR / "config_rasa_default.yml"
TRAINING_DATA = NLU_DIR / "data"
# Files whose content changes the trained model.
_MODEL_INPUTS = (NLU_DIR / "components", NLU_DIR / "normalize.py", NLU_DIR / "requirements.lock")


def rasa_executable() -> Path:
    """The ``rasa`` CLI of the NLU venv, or a clear error saying how to create it."""
    exe = RASA_VENV / "bin" / "rasa"
    if not exe.exists():
        raise NluSetupError(
            f"Rasa is not installed: {exe} is missing. Run `make run` or `make nlu-venv` "
            "(needs Python 3.10, e.g. pyenv's 3.10)."
        )
    return exe


def rasa_env(work_dir: Path) -> dict[str, str]:
    """Environment for Rasa subprocesses: our components importable, nothing written to $HOME."""
    (work_dir / "tmp").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        RASA_TELEMETRY_ENABLED="false",
        MPLCONFIGDIR=str(work_dir / "matplotlib"),
        KERAS_HOME=str(work_dir / "keras"),
        HOME=str(work_dir / "home"),
        # TensorFlow's autograph writes generated files to the temp dir; keep them with us.
        TMPDIR=str(work_dir / "tmp"),
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def _files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
            )
        elif path.exists():
            found.append(path)
    return found


def model_fingerprint(config: Path, data: Path, extra: Iterable[Path] = _MODEL_INPUTS) -> str:
    """A hash of every input that shapes the model; the cache key for trained models."""
    digest = hashlib.sha256()
    for path in _files([config, data, *extra]):
        digest.update(
            str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path).encode()
        )
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def train(
    *,
    models_dir: Path,
    work_dir: Path,
    config: Path = TSUNAGU_CONFIG,
    data: Path = TRAINING_DATA,
    name: str = "tsunagu",
    force: bool = False,
    quiet: bool = False,
) -> Path:
    """Trains the model unless an identical one is cached; returns the model archive path.

    Rasa prints its own progress bar (epochs, loss, accuracy) to the terminal.
    """
    fingerprint = model_fingerprint(config, data)
    model_name = f"{name}-{fingerprint}"
    model_path = models_dir / f"{model_name}.tar.gz"
    if model_path.exists() and not force:
        log_event(logger, "nlu.train.cached", model=model_path.name)
        return model_path
    models_dir.mkdir(parents=True, exist_ok=True)
    command = [
        str(rasa_executable()),
        "train",
        "nlu",
        "--config",
        str(config),
        "--nlu",
        str(data),
        "--out",
        str(models_dir),
        "--fixed-model-name",
        model_name,
    ]
    started = time.perf_counter()
    result = subprocess.run(
        command,
        cwd=work_dir,
        env=rasa_env(work_dir),
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.PIPE if quiet else None,
        check=False,
    )
    if result.returncode != 0 or not model_path.exists():
        detail = result.stderr.decode(errors="replace")[-2000:] if quiet and result.stderr else ""
        raise NluSetupError(f"rasa train failed (exit {result.returncode}). {detail}")
    log_event(
        logger,
        "nlu.train.done",
        model=model_path.name,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
    return model_path


def latest_model(models_dir: Path, name: str = "tsunagu") -> Path | None:
    """The current model if it is trained and up to date, else None."""
    path = models_dir / f"{name}-{model_fingerprint(TSUNAGU_CONFIG, TRAINING_DATA)}.tar.gz"
    return path if path.exists() else None


class RasaProcess:
    """A local ``rasa run --enable-api`` on loopback, restarted if it dies."""

    def __init__(self, *, model: Path, port: int, work_dir: Path, log_file: Path) -> None:
        """Prepares the command; :meth:`start` launches it."""
        self.model = model
        self.port = port
        self.work_dir = work_dir
        self.log_file = log_file
        self.url = f"http://127.0.0.1:{port}"
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False

    async def _spawn(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        try:
            self._process = await asyncio.create_subprocess_exec(
                str(rasa_executable()),
                "run",
                "--enable-api",
                "--model",
                str(self.model),
                "--interface",
                "127.0.0.1",
                "--port",
                str(self.port),
                cwd=self.work_dir,
                env=rasa_env(self.work_dir),
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()
        log_event(logger, "nlu.process.started", port=self.port, model=self.model.name)

    async def start(self, *, wait: bool = True, ready_timeout: float = 180.0) -> None:
        """Starts Rasa and supervises it; with ``wait`` returns once the model is loaded.

        ``tsunagu serve`` does not wait: the bot answers (safety layer alone) while Rasa
        loads its model, which takes 15-25 s.
        """
        await self._spawn()
        if wait:
            await self.wait_ready(ready_timeout)
        self._supervisor = asyncio.create_task(self._supervise())

    async def wait_ready(self, timeout: float) -> None:
        """Polls ``/status`` until the model is loaded, failing if the process exits."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process is not None and self._process.returncode is not None:
                    raise NluSetupError(
                        f"Rasa exited with {self._process.returncode}; see {self.log_file}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get("/status")
                    if response.status_code == 200 and response.json().get("model_file"):
                        return
                await asyncio.sleep(0.5)
        raise NluSetupError(f"Rasa did not become ready in {timeout:.0f}s; see {self.log_file}")

    async def _supervise(self) -> None:
        attempt = 0
        while not self._stopping:
            assert self._process is not None
            code = await self._process.wait()
            if self._stopping:
                return
            attempt += 1
            log_event(
                logger, "nlu.process.exited", level=logging.WARNING, status=code, attempt=attempt
            )
            await asyncio.sleep(min(30.0, 2.0**attempt))
            await self._spawn()
            with contextlib.suppress(NluSetupError):
                await self.wait_ready(180.0)
                attempt = 0

    async def stop(self) -> None:
        """Stops supervision and terminates Rasa."""
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), timeout=15)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


async def url_is_ready(url: str) -> bool:
    """True when a Rasa server at ``url`` answers ``/status`` with a loaded model."""
    try:
        async with httpx.AsyncClient(base_url=url, timeout=2.0) as client:
            response = await client.get("/status")
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and bool(response.json().get("model_file"))


def python_for_tests() -> str:
    """The interpreter running the app (used by tests to spawn the CLI)."""
    return sys.executable


def free_port() -> int:
    """An unused loopback TCP port."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def running_nlu(
    *,
    configured_url: str | None,
    models_dir: Path,
    work_dir: Path,
    log_file: Path,
    config: Path = TSUNAGU_CONFIG,
    data: Path = TRAINING_DATA,
    name: str = "tsunagu",
    quiet: bool = False,
) -> Any:
    """Yields the URL of a ready Rasa: the configured one if it answers, else a local one.

    A local server is trained if needed (cached by fingerprint), started on a free loopback
    port, and stopped on exit.
    """
    if configured_url and await url_is_ready(configured_url):
        yield configured_url
        return
    model = await asyncio.to_thread(
        train,
        models_dir=models_dir,
        work_dir=work_dir,
        config=config,
        data=data,
        name=name,
        quiet=quiet,
    )
    process = RasaProcess(model=model, port=free_port(), work_dir=work_dir, log_file=log_file)
    await process.start(wait=True)
    try:
        yield process.url
    finally:
        await process.stop()
