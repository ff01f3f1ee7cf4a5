"""The app's clock: the real one, or the instant ``VERTICALS_NOW`` names.

Everything whose *date or time decides what is shown or generated* asks this module:
the range presets, "today" in the services and the CLI, the demo seed's last day, the
local metrics' age buckets, the bus's time for an entry without one. Elapsed-time
measurement (durations, throttling, timeouts, replay pacing) stays on ``time.monotonic``
/ ``time.time``.

With ``VERTICALS_NOW`` set the clock stands still at that instant, so a test run, a
demo or a bug report can be replayed on any date. The variable is read on every call
(tests set it per test); a bad value raises :class:`~app.settings.SettingsError`
naming it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.settings import from_environment


def fixed() -> datetime | None:
    """The instant ``VERTICALS_NOW`` names (UTC), or None when the real clock runs."""
    value: datetime | None = from_environment("now")
    return None if value is None else value.astimezone(UTC)


def now() -> datetime:
    """Now, UTC-aware."""
    return fixed() or datetime.now(UTC)


def today() -> date:
    """Today's UTC date."""
    return now().date()


def timestamp() -> float:
    """Now as seconds since the epoch."""
    return now().timestamp()
