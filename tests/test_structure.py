"""The house in order: no import cycles among app's modules (imports inside functions
count, TYPE_CHECKING imports do not), no loops between its packages, no module over 900
lines. The checker is the workplace's shared tool beside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO.parent / "shared" / "tools" / "import_cycles.py"


def test_no_import_cycles_package_loops_or_oversized_modules():
    if not CHECKER.is_file():
        message = f"the import checker is not at {CHECKER}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [sys.executable, str(CHECKER), "app", "900"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
