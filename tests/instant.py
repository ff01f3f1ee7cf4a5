"""The instant every test takes as now: ``VERTICALS_NOW`` from the environment when it
is set (``make test-dates`` runs the ``dated`` tests at other instants), else DEFAULT.

Tests never read the real clock to decide what they expect: they use NOW and TODAY, and
the autouse fixture in tests/conftest.py sets VERTICALS_NOW so the app reads the same.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from app.settings import from_environment

# Noon on FIXTURE_END (tests/fixtures_lake.py), a Wednesday: an ordinary day, far from a
# month end, a year end or a leap day.
DEFAULT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)

NOW: datetime = (from_environment("now", os.environ) or DEFAULT).astimezone(UTC)
TODAY = NOW.date()
ISO = NOW.isoformat().replace("+00:00", "Z")
