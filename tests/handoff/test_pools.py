"""Pool hours, the roster and session limits from pools.yml (incl. the 妊娠SOSみえ plan)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from handoff.errors import HandoffConfigError
from handoff.pools import POOLS_FILE, HandoffConfig, load_config
from handoff.queue import ROUTING_FILE
from handoff.session_clock import SessionPhase, session_clock

JST = ZoneInfo("Asia/Tokyo")


def jst(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=JST)


@pytest.fixture(scope="module")
def config() -> HandoffConfig:
    return load_config()


def test_shipped_file_has_every_routed_pool_and_sane_limits(config: HandoffConfig) -> None:
    routing = yaml.safe_load(ROUTING_FILE.read_text(encoding="utf-8"))
    assert (
        set(routing["pools"])
        == set(config.pools)
        == {
            "dv",
            "pregnancy",
            "consumer",
            "digital",
            "general",
        }
    )
    assert config.session.warning_minutes < config.session.cap_minutes == 50
    for pool in config.pools:
        assert config.counselors_in(pool), f"nobody serves {pool}"
    assert {c.role for c in config.counselors} == {"counselor", "supervisor", "admin"}


# 2026-11-23 is a Monday, 11-25 a Wednesday, 11-28 a Saturday, 11-29 a Sunday.
@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (jst(2026, 11, 23, 15), True),
        (jst(2026, 11, 23, 17, 59), True),
        (jst(2026, 11, 23, 18), False),
        (jst(2026, 11, 23, 14, 59), False),
        (jst(2026, 11, 24, 16), False),  # Tuesday
        (jst(2026, 11, 25, 16), True),
        (jst(2026, 11, 28, 9), True),
        (jst(2026, 11, 28, 11, 59), True),
        (jst(2026, 11, 28, 12), False),
        (jst(2026, 11, 29, 10), False),  # Sunday
    ],
)
def test_ninshin_sos_mie_hours(config: HandoffConfig, at: datetime, expected: bool) -> None:
    assert config.is_open("pregnancy", at) is expected


def test_hours_are_tokyo_time_whatever_zone_the_caller_uses(config: HandoffConfig) -> None:
    # Monday 06:30 UTC is Monday 15:30 in Tokyo.
    assert config.is_open("pregnancy", datetime.fromisoformat("2026-11-23T06:30:00+00:00"))
    with pytest.raises(ValueError, match="aware"):
        config.is_open("pregnancy", datetime(2026, 11, 23, 15, 30))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (jst(2026, 11, 23, 16), jst(2026, 11, 23, 16)),  # open now
        (jst(2026, 11, 23, 10), jst(2026, 11, 23, 15)),  # later today
        (jst(2026, 11, 23, 18), jst(2026, 11, 25, 15)),  # Monday evening → Wednesday
        (jst(2026, 11, 25, 19), jst(2026, 11, 28, 9)),  # Wednesday evening → Saturday
        (jst(2026, 11, 28, 12), jst(2026, 11, 30, 15)),  # Saturday noon → next Monday
        (jst(2026, 11, 29, 3), jst(2026, 11, 30, 15)),  # Sunday night (the 消えたい window)
    ],
)
def test_next_opening(config: HandoffConfig, at: datetime, expected: datetime) -> None:
    assert config.next_opening("pregnancy", at) == expected


def _write(tmp_path: Path, mutate: dict[str, object]) -> Path:
    data = yaml.safe_load(POOLS_FILE.read_text(encoding="utf-8"))
    data.update(mutate)
    path = tmp_path / "pools.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        ({"pools": {"dv": {"name": "DV", "hours": {"mon": ["18:00-15:00"]}}}}, "ends before"),
        ({"pools": {"dv": {"name": "DV", "hours": {"monday": ["09:00-12:00"]}}}}, "weekday"),
        ({"pools": {"dv": {"name": "DV", "hours": {"mon": ["9-12"]}}}}, "15:00-18:00"),
        (
            {"pools": {"dv": {"name": "DV", "hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}}},
            "overlap",
        ),
        ({"session": {"cap_minutes": 25, "warning_minutes": 30}}, "warning_minutes"),
        ({"timezone": "Asia/Nowhere"}, "time zone"),
        ({"counselors": [{"id": "x", "display_name": "X", "role": "boss", "pools": []}]}, "role"),
    ],
)
def test_invalid_files_fail_with_a_clear_message(
    tmp_path: Path, mutate: dict[str, object], message: str
) -> None:
    with pytest.raises(HandoffConfigError, match=message) as info:
        load_config(_write(tmp_path, mutate))
    assert "pools.yml" in str(info.value)


def test_counselor_in_unknown_pool_is_rejected(tmp_path: Path) -> None:
    counselors = [{"id": "c9", "display_name": "X", "role": "counselor", "pools": ["nowhere"]}]
    with pytest.raises(HandoffConfigError, match="unknown pools"):
        load_config(_write(tmp_path, {"counselors": counselors}))


def test_unknown_pool_lookup(config: HandoffConfig) -> None:
    with pytest.raises(HandoffConfigError, match="unknown pool"):
        config.is_open("astrology", jst(2026, 11, 23, 10))


def test_session_clock_warns_then_caps(config: HandoffConfig) -> None:
    start = jst(2026, 11, 23, 15)
    limits = config.session
    early = session_clock(start, limits, start + timedelta(minutes=10))
    assert (early.phase, early.elapsed_minutes, early.remaining_minutes) == (
        SessionPhase.RUNNING,
        10,
        40,
    )
    warn = session_clock(start, limits, start + timedelta(minutes=limits.warning_minutes))
    assert warn.phase is SessionPhase.WARNING
    over = session_clock(start, limits, start + timedelta(minutes=limits.cap_minutes + 3))
    assert (over.phase, over.remaining_minutes) == (SessionPhase.OVER_CAP, 0)
