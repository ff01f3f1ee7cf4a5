import subprocess
import sys

import pytest

from app.__main__ import main
from app.settings import REPO_ROOT


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args, says",
    [
        pytest.param(["demo", "seed", "--days", "0"], "must be greater than 0", id="zero-days"),
        pytest.param(
            ["demo", "seed", "--events-per-day", "many"],
            "must be a whole number, got 'many'",
            id="text-scale",
        ),
        pytest.param(["demo", "seed", "--end", "26/11/2026"], "invalid fromisoformat value", id="bad-date"),
        pytest.param(["demo", "launch"], "invalid choice", id="unknown-command"),
        pytest.param(
            ["analyze", "forecast", "--horizon", "-1"],
            "--horizon: must be greater than 0",
            id="negative-horizon",
        ),
        pytest.param(
            ["analyze", "forecast", "--days", "0"], "--days: must be greater than 0", id="zero-analyze-days"
        ),
        pytest.param(
            ["analyze", "campaigns", "--days", "-3"], "--days: must be greater than 0", id="negative-days"
        ),
        pytest.param(
            ["query", "run", "x", "--max-rows", "-1"], "--max-rows: must be greater than 0", id="max-rows"
        ),
        pytest.param(
            ["bus", "publish", "--endpoint", "u", "--tick", "0"],
            "--tick: must be a number greater",
            id="tick",
        ),
        pytest.param(
            ["bus", "publish", "--endpoint", "u", "--tick", "nan"],
            "--tick: must be a number greater",
            id="nan",
        ),
        pytest.param(
            ["bus", "publish", "--endpoint", "u", "--rate", "-5"], "--rate: must be greater than 0", id="rate"
        ),
        pytest.param(
            ["bus", "serve", "--put-events-tps", "-1"], "--put-events-tps: must be a number", id="tps"
        ),
        pytest.param(
            ["bus", "serve", "--port", "70000"], "--port: must be a port from 0 to 65535", id="port"
        ),
        pytest.param(
            ["bus", "consumer", "--port", "-1"], "--port: must be a port from 0 to 65535", id="port-neg"
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args, says, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert says in capsys.readouterr().err


def test_a_bad_setting_is_one_line_not_a_traceback(tmp_path):
    import os

    result = run_cli("demo", "seed", "--days", "1", env={**os.environ, "VERTICALS_CACHE_TTL": "soon"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: VERTICALS_CACHE_TTL='soon' is invalid: cache_ttl must be a whole number."
    ]


def test_seed_then_skip_when_already_seeded(tmp_path, capsys):
    lake = tmp_path / "lake"
    assert (
        main(["demo", "seed", "--lake", str(lake), "--days", "2", "--events-per-day", "300", "--quiet"]) == 0
    )
    assert "seeded" in capsys.readouterr().out
    assert main(["demo", "seed", "--lake", str(lake), "--days", "2", "--if-empty", "--quiet"]) == 0
    assert "already seeded" in capsys.readouterr().out


def test_a_folder_that_is_not_a_lake_is_one_sentence(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    for args in (["query", "run", "late_deliveries"], ["lake", "check"]):
        assert main([*args, "--lake", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {tmp_path} is not a lake") and err.count("\n") == 1


def test_lake_check_lists_a_stray_file_and_quarantine_moves_it(tmp_path, capsys):
    from tests.fixtures_lake import write_fixture_lake

    lake = write_fixture_lake(tmp_path / "lake")
    (lake / "orders" / "stray.parquet").write_text("not parquet")
    assert main(["lake", "check", "--lake", str(lake)]) == 1
    assert "orders/stray.parquet" in capsys.readouterr().out
    assert main(["lake", "quarantine", "--lake", str(lake)]) == 0
    assert (lake / "_quarantine" / "orders" / "stray.parquet").read_text() == "not parquet"
    assert main(["lake", "check", "--lake", str(lake)]) == 0


def test_lake_tilde_is_home_and_an_empty_lake_is_refused(tmp_path, monkeypatch, capsys):
    from app.cli.common import lake_path

    monkeypatch.setenv("HOME", str(tmp_path))
    assert lake_path("~/mylake") == tmp_path / "mylake"  # `--lake=~/mylake`: no shell expands it
    with pytest.raises(SystemExit) as exit_:
        main(["query", "run", "late_deliveries", "--lake", ""])
    assert exit_.value.code == 2
    assert "argument --lake: give a folder" in capsys.readouterr().err


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    from app.cli import query

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(query, "_run", interrupted)
    assert main(["query", "run", "late_deliveries"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize("queue", ["../x", "nosuch-dlq"])
def test_redrive_of_a_queue_that_is_none_of_the_bus_s_is_one_line(tmp_path, capsys, queue):
    from tests.fixtures_lake import write_fixture_lake

    lake = write_fixture_lake(tmp_path / "lake")
    assert main(["bus", "redrive", "--lake", str(lake), "--queue", queue]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and repr(queue) in err


def test_quarantine_of_a_table_linked_outside_the_lake_is_one_line(tmp_path, capsys):
    from tests.fixtures_lake import write_fixture_lake

    lake = write_fixture_lake(tmp_path / "lake")
    elsewhere = tmp_path / "elsewhere"
    (lake / "refunds").rename(elsewhere)
    (lake / "refunds").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "dt=2026-01-01").mkdir(exist_ok=True)
    (elsewhere / "dt=2026-01-01" / "stray.txt").write_text("x")
    before = sorted(p.name for p in elsewhere.rglob("*"))
    assert main(["lake", "quarantine", "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Refusing to write") and "not inside the lake" in err
    assert err.count("\n") == 1
    assert sorted(p.name for p in elsewhere.rglob("*")) == before  # nothing moved out there
