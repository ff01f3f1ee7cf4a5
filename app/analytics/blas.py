"""Run the analytics' small linear algebra on one BLAS thread.

OpenBLAS splits every call above a tiny size across one thread per core. The matrices
here are small (a few hundred rows) and the machines have two cores shared with other
work, so the threads mostly wait for each other: a 560×130 QR took 0.43 s threaded and
7.6 ms on one thread, and the forecast backtest ran 4× slower. threadpoolctl does this
job but is not a dependency; numpy and scipy each ship their own OpenBLAS build
(``<package>.libs/libscipy_openblas*.so``) with a ``set_num_threads`` entry point, which
is what :func:`one_thread` calls, restoring the previous count afterwards.
"""

from __future__ import annotations

import ctypes
import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

GetThreads = Callable[[], int]
SetThreads = Callable[[int], object]

# (getter, setter) names in the builds numpy (64-bit ints) and scipy ship.
_ENTRY_POINTS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


def _controls() -> list[tuple[GetThreads, SetThreads]]:
    """(get, set) functions of every OpenBLAS numpy and scipy loaded."""
    found: list[tuple[GetThreads, SetThreads]] = []
    for package in ("numpy", "scipy"):
        try:
            module = importlib.import_module(package)
            if package == "scipy":
                importlib.import_module("scipy.linalg")  # loads scipy's BLAS
        except ImportError:
            continue
        if module.__file__ is None:
            continue
        for path in (Path(module.__file__).parent.parent / f"{package}.libs").glob("libscipy_openblas*.so"):
            found.extend(_entry_points(ctypes.CDLL(str(path))))
    return found


def _entry_points(library: ctypes.CDLL) -> list[tuple[GetThreads, SetThreads]]:
    for getter, setter in _ENTRY_POINTS:
        if hasattr(library, getter) and hasattr(library, setter):
            return [(getattr(library, getter), getattr(library, setter))]
    return []


class _State:
    """The controls found (looked up on first use), the nesting depth and the counts to restore."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.controls: list[tuple[GetThreads, SetThreads]] | None = None
        self.depth = 0
        self.saved: list[tuple[SetThreads, int]] = []


_state = _State()


@contextmanager
def one_thread() -> Iterator[None]:
    """Within the block, BLAS calls run on the calling thread only (nestable)."""
    with _state.lock:
        if _state.controls is None:
            _state.controls = _controls()
        if _state.depth == 0:
            _state.saved[:] = [(set_threads, get_threads()) for get_threads, set_threads in _state.controls]
            for _, set_threads in _state.controls:
                set_threads(1)
        _state.depth += 1
    try:
        yield
    finally:
        with _state.lock:
            _state.depth -= 1
            if _state.depth == 0:
                for set_threads, count in _state.saved:
                    set_threads(count)
