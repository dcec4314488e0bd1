"""The dependency-audit gate: vulnerabilities fail, an audit that audited nothing is a skip."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "dependency_audit.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dependency_audit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_known_vulnerability_fails(capsys: pytest.CaptureFixture[str]) -> None:
    report = {
        "dependencies": [
            {
                "name": "jinja2",
                "version": "2.10",
                "vulns": [{"id": "PYSEC-1", "fix_versions": ["2.11.3"]}],
            },
            {"name": "idna", "version": "3.7", "vulns": []},
        ]
    }
    assert load().judge(report, require=False) == 1
    assert "VULNERABLE jinja2 2.10: PYSEC-1 (2.11.3)" in capsys.readouterr().out


def test_nothing_audited_is_a_visible_skip(capsys: pytest.CaptureFixture[str]) -> None:
    reason = "Dependency not found on PyPI and could not be audited: idna (3.7)"
    report = {"dependencies": [{"name": "idna", "skip_reason": reason}]}
    module = load()
    assert module.judge(report, require=False) == 0
    assert "SKIPPED: dependency audit" in capsys.readouterr().out
    assert module.judge(report, require=True) == 1


def test_clean_audit_passes(capsys: pytest.CaptureFixture[str]) -> None:
    report = {"dependencies": [{"name": "idna", "version": "3.7", "vulns": []}]}
    assert load().judge(report, require=True) == 0
    assert "1 packages audited, no known vulnerabilities" in capsys.readouterr().out


def test_both_environments_are_audited() -> None:
    """The Rasa service's pins are audited as well as the app (its venv is Python 3.10)."""
    targets = load().TARGETS
    assert len(targets) == 2
    lock = next(args for args in targets.values() if "-r" in args)
    assert Path(lock[lock.index("-r") + 1]).is_file()
    assert {"--no-deps", "--disable-pip"} <= set(lock)
