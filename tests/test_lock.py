"""The installed environment is the lock: every package the lock names for this platform
is installed at its locked version, and nothing else is (beyond the venv's own tools).
Run `make lock` after editing requirements.txt or requirements-dev.txt."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
VENV_TOOLS = {"pip", "setuptools", "wheel"}  # created by `python -m venv`, not by the lock


def locked() -> dict[str, str]:
    """Package -> version for every lock entry whose marker holds here."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match is None:
            continue
        name, version, marker = match.groups()
        if marker and not Marker(marker).evaluate():
            continue
        pins[canonicalize_name(name.split("[")[0])] = version
    return pins


def installed() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}


def test_lock_pins_every_entry_with_hashes():
    text = LOCK.read_text()
    entries = re.findall(r"^[A-Za-z0-9_.\-]+==\S+", text, flags=re.M)
    hashed = re.findall(
        r"^[A-Za-z0-9_.\-]+==[^\n]*\\\n"  # a pinned requirement, continued on the next line
        r"(?:\s+--hash=sha256:[0-9a-f]{64}\s*\\?\n)+",  # by its hashes
        text,
        re.M,
    )
    assert entries and len(hashed) == len(entries)


def test_lock_holds_a_botocore_that_motos_athena_speaks():
    # botocore 1.44.18 moved Athena to rest-json; moto 5.2.5 answers it with 404.
    pins = locked()
    assert pins["botocore"] == pins["boto3"] == "1.44.8"


def test_installed_environment_is_the_lock():
    pins, have = locked(), installed()
    wrong = {name: (have.get(name), version) for name, version in pins.items() if have.get(name) != version}
    extra = sorted(set(have) - set(pins) - VENV_TOOLS - {"verticals"})
    assert not wrong, f"installed vs locked (run `make clean test`): {wrong}"
    assert not extra, f"installed but not in requirements.lock: {extra}"
