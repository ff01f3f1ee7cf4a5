import io
import json
import sys

import pandas as pd
import pytest

from app.__main__ import main
from app.cli import query as query_cli
from app.cli.query import UsageError, format_result, parse_param_args
from app.engines.base import QueryResult
from tests.fixtures_lake import FIXTURE_END, write_fixture_lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return write_fixture_lake(tmp_path_factory.mktemp("cli-lake"))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_names_every_query_with_its_params(capsys):
    code, out, _ = run(capsys, "query", "list")
    assert code == 0
    assert "top_customers" in out and "top_n:number=20" in out and "period:daterange=last 30 days" in out


def test_run_prints_a_table_and_the_scan_figures(capsys, lake):
    code, out, _ = run(
        capsys, "query", "run", "late_deliveries", "--lake", str(lake), "--today", str(FIXTURE_END)
    )
    assert code == 0
    header, *rows = out.split("\n\n")[0].splitlines()
    assert header.split() == [
        "carrier",
        "region",
        "delivered",
        "late",
        "late_pct",
        "delays",
        "avg_delay_h",
        "avg_transit_h",
    ]
    assert rows[0].split()[:5] == ["UPS", "west", "1", "1", "100.0"]
    assert "2 rows in" in out and "scanned 2 files" in out


def test_run_json_with_params(capsys, lake):
    code, out, _ = run(
        capsys,
        "query",
        "run",
        "top_customers",
        "--lake",
        str(lake),
        "--today",
        str(FIXTURE_END),
        "--param",
        "top_n=1",
        "--param",
        "regions=east,central",
        "--format",
        "json",
    )
    document = json.loads(out)
    assert code == 0 and document["params"]["regions"] == ["east", "central"]
    assert document["rows"] == [
        {
            "rank": 1,
            "customer_id": "c1",
            "orders": 3,
            "revenue": 595.0,
            "first_order": "2026-03-02T08:00:00Z",
            "last_order": "2026-03-04T07:00:00Z",
        }
    ]
    assert document["files_scanned"] == 3 and document["bytes_scanned"] > 0


def refunds_csv(lake) -> list[str]:
    """The command line of a CSV run of refunds_by_reason over the fixture lake."""
    return [
        "query",
        "run",
        "refunds_by_reason",
        "--lake",
        str(lake),
        "--today",
        str(FIXTURE_END),
        "--format",
        "csv",
    ]


def test_run_csv_keeps_figures_off_stdout(capsys, lake):
    code, out, err = run(capsys, *refunds_csv(lake))
    assert code == 0
    assert out.splitlines() == [
        "reason,refunds,amount,avg_amount,amount_share_pct",
        "damaged,1,380.0,380.0,100.0",
    ]
    assert "scanned 1 files" in err


def test_csv_neutralises_formulas_like_the_dashboard():
    frame = pd.DataFrame({"=name": ['=HYPERLINK("https://evil", "x")', "plain"], "delta": [-5, 3]})
    result = QueryResult(frame=frame, elapsed_s=0.0, bytes_scanned=0, files_scanned=0)
    shown = format_result(result, "csv", query="q", params={}, max_rows=10)
    assert shown.splitlines() == ["'=name,delta", '"\'=HYPERLINK(""https://evil"", ""x"")",-5', "plain,3"]


def test_a_table_prints_control_characters_spelled_out():
    """A lake value with ESC or BEL reached the terminal as is: it could recolour it or set
    its title. Spelled \\xNN in the table; JSON escapes them itself; CSV keeps the data
    (to a terminal, below)."""
    evil = "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07"
    frame = pd.DataFrame({"detail_type\x1b[1m": [evil, "plain"], "n": [1, 2]})
    result = QueryResult(frame=frame, elapsed_s=0.0, bytes_scanned=0, files_scanned=0)
    shown = format_result(result, "table", query="q", params={}, max_rows=10)
    assert not any(c in shown for c in "\x1b\x07")
    assert "\\x1b[31mRED\\x1b[0m\\x1b]0;pwned\\x07" in shown and "detail_type\\x1b[1m" in shown
    assert "\\u001b" in format_result(result, "json", query="q", params={}, max_rows=10)


def test_csv_to_a_terminal_spells_control_characters_and_to_a_file_keeps_them():
    """`query run --format csv` printed ESC and BEL to the terminal as they were."""
    evil = "\x1b[31mRED\x1b]0;pwned\x07\nnext"
    frame = pd.DataFrame({"detail_type\x1b[1m": [evil, "plain"], "n": [1, 2]})
    result = QueryResult(frame=frame, elapsed_s=0.0, bytes_scanned=0, files_scanned=0)
    shown = format_result(result, "csv", query="q", params={}, max_rows=10, terminal=True)
    assert not any(c in shown for c in "\x1b\x07")
    assert shown.splitlines() == [
        "detail_type\\x1b[1m,n",
        "\\x1b[31mRED\\x1b]0;pwned\\x07\\x0anext,1",
        "plain,2",
    ]
    kept = pd.read_csv(io.StringIO(format_result(result, "csv", query="q", params={}, max_rows=10)))
    assert kept.columns[0] == "detail_type\x1b[1m" and kept.iloc[0, 0] == evil


@pytest.mark.parametrize("tty", [True, False])
def test_run_tells_csv_whether_it_prints_to_a_terminal(capsys, lake, monkeypatch, tty):
    seen: list[bool] = []

    def format_spy(*args, **kwargs):
        seen.append(kwargs["terminal"])
        return real(*args, **kwargs)

    real = query_cli.format_result
    monkeypatch.setattr(query_cli, "format_result", format_spy)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    code, out, _ = run(capsys, *refunds_csv(lake))
    assert code == 0 and seen == [tty] and out.startswith("reason,refunds")


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(["nope"], "unknown query 'nope'; known: ", id="unknown-query"),
        pytest.param(
            ["top_customers", "--param", "top_n=abc"],
            "parameter top_n: 'abc' is not a number",
            id="bad-value",
        ),
        pytest.param(["top_customers", "--param", "top_n=5000"], "more than 1000", id="out-of-range"),
        pytest.param(
            ["top_customers", "--param", "colour=red"], "has no parameter colour", id="unknown-param"
        ),
        pytest.param(["top_customers", "--param", "top_n"], "must look like key=value", id="no-equals"),
        pytest.param(
            ["top_customers", "--param", "top_n=1", "--param", "top_n=2"], "given twice", id="twice"
        ),
        pytest.param(["event_lookup", "--param", "event_id=a\tb"], "control characters", id="control-chars"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, lake, argv, message):
    code, out, err = run(capsys, "query", "run", *argv, "--lake", str(lake))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "value, message",
    [
        pytest.param("-1", "argument --max-rows: must be greater than 0, got -1", id="negative"),
        pytest.param("0", "argument --max-rows: must be greater than 0, got 0", id="zero"),
        pytest.param("lots", "argument --max-rows: must be a whole number, got 'lots'", id="text"),
    ],
)
def test_max_rows_must_be_a_positive_whole_number(capsys, lake, value, message):
    with pytest.raises(SystemExit) as exit_:
        main(["query", "run", "top_customers", "--lake", str(lake), "--max-rows", value])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == ""
    assert err.splitlines()[-1].endswith(f"error: {message}")


def test_missing_lake_is_one_line_and_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "query", "run", "top_customers", "--lake", str(tmp_path / "nowhere"))
    assert code == 2 and err.startswith("error: no lake at ") and err.count("\n") == 1


def test_the_engine_takes_the_query_timeout_setting(monkeypatch, lake):
    from app.cli.query import _engine

    monkeypatch.setenv("VERTICALS_QUERY_TIMEOUT", "7")
    engine = _engine(lake)
    try:
        assert engine.timeout_s == 7
        assert engine.run("SELECT current_setting('max_execution_time') AS ms").frame.loc[0, "ms"] == 7000
    finally:
        engine.close()


def test_params_with_equals_signs_in_the_value():
    assert parse_param_args(["event_id=a=b", "period=last 7 days"]) == {
        "event_id": "a=b",
        "period": "last 7 days",
    }
    with pytest.raises(UsageError):
        parse_param_args(["=x"])


def test_show_sql_prints_the_query_and_its_values_on_stderr_only(capsys, lake):
    argv = ["query", "run", "late_deliveries", "--lake", str(lake), "--today", str(FIXTURE_END)]
    argv += ["--param", "regions=east,west", "--format", "csv"]
    code, plain_out, plain_err = run(capsys, *argv)
    assert code == 0 and "SELECT" not in plain_err
    code, out, err = run(capsys, *argv, "--show-sql")
    assert code == 0 and out == plain_out  # the data on stdout is unchanged
    sql, values = err.split("-- parameters:\n")
    assert sql.lstrip().upper().startswith("SELECT") and ":period_start" in sql and ":regions" in sql
    assert "--   regions = ['east', 'west']" in values.splitlines()
    assert f"--   period_end = '{FIXTURE_END}'" in values.splitlines()
