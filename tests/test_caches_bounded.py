"""Every cache the app keeps is bounded: a long-running dashboard or bus must not grow with
every distinct key it has seen (issue 13: the Streamlit server's memory).

Found by reading the source (no import): ``st.cache_data`` / ``st.cache_resource`` need
``max_entries``; ``lru_cache`` a ``maxsize`` that is not None; ``functools.cache`` (no
bound) is refused; and a module-level container that functions add to (a dict used as a
cache, a registry) must be listed below with the reason it cannot grow without bound.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.settings import REPO_ROOT

SOURCES = ("app", "dashboard", "pages")
MUTATORS = frozenset({"append", "add", "setdefault", "update", "extend", "insert", "__setitem__"})
# "path:NAME" -> why it is bounded.
BOUNDED_GLOBALS: dict[str, str] = {
    "app/lake/rollups.py:_FIRST_DT": "one entry per raw table folder (11) of each lake the process reads",
    "app/lake/rollups.py:_CURRENT": "one entry per lake the process reads (its version file)",
    "app/bus/dlq.py:_COUNTED": "one entry (under 4.5 KB) per dead-letter queue file that exists when counted",
}


def modules() -> list[Path]:
    return sorted(p for folder in SOURCES for p in (REPO_ROOT / folder).rglob("*.py"))


def _name(node: ast.AST) -> str:
    """``st.cache_data`` for a decorator expression (its call's function, if called)."""
    node = node.func if isinstance(node, ast.Call) else node
    return ast.unparse(node)


def _keywords(node: ast.AST) -> dict[str, ast.expr]:
    return {k.arg: k.value for k in node.keywords if k.arg} if isinstance(node, ast.Call) else {}


def cache_findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    where = path.relative_to(REPO_ROOT)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            name, keywords = _name(decorator), _keywords(decorator)
            at = f"{where}:{decorator.lineno} {node.name}"
            if name.endswith(("cache_data", "cache_resource")) and "max_entries" not in keywords:
                found.append(f"{at}: {name} without max_entries")
            elif name.endswith("lru_cache"):
                size = keywords.get("maxsize")
                positional = decorator.args[0] if isinstance(decorator, ast.Call) and decorator.args else None
                bound = size if size is not None else positional
                if bound is None or (isinstance(bound, ast.Constant) and bound.value is None):
                    found.append(f"{at}: lru_cache without a maxsize")
            elif name in ("cache", "functools.cache"):
                found.append(f"{at}: functools.cache has no bound")
    return found


def growing_globals(path: Path) -> list[str]:
    """Module-level names that a function adds to (``NAME[k] = v``, ``NAME.append(…)``)."""
    tree = ast.parse(path.read_text(), str(path))
    names = {
        target.id
        for statement in tree.body
        if isinstance(statement, (ast.Assign, ast.AnnAssign))
        for target in (statement.targets if isinstance(statement, ast.Assign) else [statement.target])
        if isinstance(target, ast.Name)
    }
    where = path.relative_to(REPO_ROOT)
    found = set()
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        local = {a.arg for a in function.args.args + function.args.kwonlyargs}
        for node in ast.walk(function):
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    value = target.value if isinstance(target, ast.Subscript) else None
                    if isinstance(value, ast.Name) and value.id in names - local:
                        found.add(f"{where}:{value.id}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATORS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in names - local
            ):
                found.add(f"{where}:{node.func.value.id}")
    return sorted(found - set(BOUNDED_GLOBALS))


def test_the_sources_are_found():
    assert len(modules()) > 50
    assert any(cache_findings(p) == [] and "cache_data" in p.read_text() for p in modules())


@pytest.mark.parametrize(
    ("source", "finding"),
    [
        pytest.param("@st.cache_data(ttl=60)\ndef f(): pass\n", "without max_entries", id="cache_data"),
        pytest.param("@st.cache_resource\ndef f(): pass\n", "without max_entries", id="cache_resource"),
        pytest.param(
            "@functools.lru_cache(maxsize=None)\ndef f(): pass\n", "without a maxsize", id="lru-none"
        ),
        pytest.param("@lru_cache\ndef f(): pass\n", "without a maxsize", id="lru-bare"),
        pytest.param("@cache\ndef f(): pass\n", "no bound", id="cache"),
    ],
)
def test_an_unbounded_cache_is_found(tmp_path, monkeypatch, source, finding):
    monkeypatch.setattr("tests.test_caches_bounded.REPO_ROOT", tmp_path)
    (tmp_path / "m.py").write_text(source)
    assert finding in " ".join(cache_findings(tmp_path / "m.py"))


def test_a_growing_module_dict_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr("tests.test_caches_bounded.REPO_ROOT", tmp_path)
    (tmp_path / "m.py").write_text("SEEN = {}\ndef f(k):\n    SEEN[k] = 1\n    OTHER.append(k)\nOTHER = []\n")
    assert growing_globals(tmp_path / "m.py") == ["m.py:OTHER", "m.py:SEEN"]


def test_every_app_cache_is_bounded():
    found = [f for path in modules() for f in cache_findings(path) + growing_globals(path)]
    assert found == [], "\n".join(found)
