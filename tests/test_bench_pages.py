"""bench/bench_pages.py on the seeded lake: it runs, and every floor it times answers what
its page answers (it prints "no ratio" where a floor's rows differ from its page's): a floor
that drifted from its page would take that page's ratios out of docs/benchmarks.md. No
time is checked: only that each page has its ratios and its split into statements and rest.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, time
from io import StringIO

import pytest

from bench import bench_pages
from tests.instant import TODAY

PAGES = ("Overview", "Event rates", "Saved queries (order_funnel)", "Event explorer (search)")
RANGES = ("7d", "365d")  # a year on a 60-day lake: its previous period is before the lake
# One worker runs the module: its fixture runs the bench once.
pytestmark = pytest.mark.xdist_group("bench-pages")


@pytest.fixture(scope="module")
def printed(seeded_lake) -> str:
    # Ranges ending at today's midnight: closed days only, which the seed has rolled up.
    end = datetime.combine(TODAY, time(), UTC)
    argv = ["bench_pages.py", "--lake", str(seeded_lake), "--now", end.isoformat(), "--rounds", "1"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", [*argv, "--ranges", *RANGES, "--pages", *PAGES])
        out = StringIO()
        patch.setattr(sys, "stdout", out)
        bench_pages.main()
    return out.getvalue()


def test_every_floor_answers_what_its_page_answers(printed):
    assert "no ratio" not in printed
    assert "no floor" not in printed


@pytest.mark.parametrize("page", PAGES)
def test_each_page_has_its_ratios_and_its_split(printed, page):
    lines = [line for line in printed.splitlines() if line.startswith(page + " ")]
    against_floor = [line for line in lines if "floor" in line]
    split = [line for line in lines if "rest" in line]
    assert len(against_floor) == 1 and len(split) == 1, lines
    for key in RANGES:
        assert re.search(rf"{key}: \d+\.\d\dx \(\d+\.\d\d-\d+\.\d\d\), floor \d+\.\d+s", against_floor[0])
        assert re.search(rf"{key}: \d+\.\d\dx, rest \d+\.\d ms", split[0])
