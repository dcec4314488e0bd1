"""Dependency audit for `make test`: pip-audit over both virtualenvs, or a visible skip.

Two audits: the app's environment (this interpreter's), and the Rasa service's pinned
``nlu/requirements.lock`` (``--no-deps --disable-pip``: every line is pinned, so nothing has
to be resolved or installed, and the Python 3.10 venv need not exist).

pip-audit's default vulnerability service reads PyPI's per-release JSON
(``https://pypi.org/pypi/<name>/<version>/json``). When that endpoint cannot be reached,
pip-audit does not fail: it marks every package "not found on PyPI and could not be
audited" and reports "No known vulnerabilities found", a false green. So this script first
asks the service for one release it must know (pip-audit's own) and, if that fails, prints
a SKIPPED banner saying exactly why and exits 0; it also treats a run in which every
package was skipped as skipped, not passed. Known vulnerabilities fail the build.

Measured on the development machines (2026-11): pypi.org resolves to the registry gateway,
which serves the simple index and the project JSON (``/pypi/<name>/json``) but answers 404
with an empty body to the per-release JSON; the OSV service (api.osv.dev) does not resolve.
Run with ``--require`` where the service is reachable to make a skip an error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

PROBE_URL = "https://pypi.org/pypi/pip-audit/{version}/json"
PROBE_TIMEOUT_SECONDS = 10.0
AUDIT_TIMEOUT_SECONDS = 900


def say(line: str) -> None:
    """Prints to stdout (CI logs) immediately."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def probe() -> str | None:
    """None if the vulnerability service answers, else why not."""
    url = PROBE_URL.format(version=version("pip-audit"))
    try:
        response = httpx.get(url, timeout=PROBE_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return f"{url} could not be reached ({type(exc).__name__}: {exc})"
    if response.status_code != 200 or "vulnerabilities" not in response.text:
        return (
            f"{url} answered HTTP {response.status_code} with {len(response.content)} bytes; "
            "pip-audit's PyPI service needs this per-release JSON endpoint"
        )
    return None


def skipped(reason: str, *, require: bool) -> int:
    """The visible banner; an error only with ``--require``."""
    say("=" * 78)
    say("SKIPPED: dependency audit (pip-audit) — vulnerability service unreachable")
    say(f"  {reason}")
    say("  Run `make audit` on a machine that reaches pypi.org's JSON API to audit.")
    say("=" * 78)
    return 1 if require else 0


RASA_LOCK = Path(__file__).resolve().parent.parent / "nlu" / "requirements.lock"
PIP_AUDIT = [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "--format", "json"]
TARGETS: dict[str, list[str]] = {
    "app environment": ["--skip-editable"],
    "Rasa service (nlu/requirements.lock)": ["--no-deps", "--disable-pip", "-r", str(RASA_LOCK)],
}


def audit(require: bool) -> int:
    """Runs pip-audit on each target; the worst exit code wins."""
    worst = 0
    for name, arguments in TARGETS.items():
        say(f"dependency audit: {name}")
        worst = max(worst, audit_one(PIP_AUDIT + arguments, require=require))
    return worst


def audit_one(command: list[str], *, require: bool) -> int:
    """Runs one pip-audit command and judges its JSON report."""
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=AUDIT_TIMEOUT_SECONDS, check=False
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        say(done.stderr.strip())
        say(f"pip-audit failed (exit {done.returncode}) without a JSON report")
        return 1
    return judge(report, require=require)


def judge(report: dict[str, Any], *, require: bool) -> int:
    """Exit code for a pip-audit JSON report: 1 on any known vulnerability."""
    dependencies = report.get("dependencies", [])
    unaudited = [d for d in dependencies if "skip_reason" in d]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            say(f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} ({fixes})")
    if vulnerable:
        return 1
    if dependencies and len(unaudited) == len(dependencies):
        return skipped(
            f"all {len(dependencies)} packages were skipped by pip-audit, e.g. "
            f"{unaudited[0]['skip_reason']}",
            require=require,
        )
    say(
        f"dependency audit: {len(dependencies) - len(unaudited)} packages audited, "
        f"no known vulnerabilities; {len(unaudited)} could not be audited"
    )
    for dependency in unaudited:
        say(f"  not audited: {dependency['skip_reason']}")
    return 0


def main() -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--require", action="store_true", help="fail instead of skipping when unreachable"
    )
    args = parser.parse_args()
    reason = probe()
    if reason is not None:
        return skipped(reason, require=args.require)
    return audit(args.require)


if __name__ == "__main__":
    sys.exit(main())
