from datetime import date

import pandas as pd
import pytest

from app.aws.errors import AwsError
from app.bus.dead_letter_source import LocalDeadLetters
from app.services import common, context
from app.services.timerange import custom_range
from app.settings import load_settings


def test_in_list_binds_each_value():
    assert common.in_list("s", ("a", "b")) == ("(:s0, :s1)", {"s0": "a", "s1": "b"})


@pytest.mark.parametrize(
    ("first", "last", "unit"),
    [
        pytest.param(date(2026, 11, 1), date(2026, 11, 3), "hour", id="days-hourly"),
        pytest.param(date(2026, 9, 1), date(2026, 11, 3), "day", id="months-daily"),
        pytest.param(date(2025, 11, 1), date(2026, 11, 3), "day", id="year-daily-then-weekly"),
    ],
)
def test_with_unit(first, last, unit):
    assert (
        common.with_unit("date_trunc('{unit}', time)", custom_range(first, last))
        == f"date_trunc('{unit}', time)"
    )


def test_weekly_sums_into_weeks_starting_monday():
    frame = pd.DataFrame({"bucket": pd.date_range("2026-11-01", periods=9, freq="D"), "k": "a", "n": 1})
    weeks = common.weekly(frame, "bucket", ["k"], {"n": "sum"})
    assert weeks["bucket"].dt.strftime("%Y-%m-%d").tolist() == ["2026-10-26", "2026-11-02", "2026-11-09"]
    assert weeks["n"].tolist() == [1, 7, 1]


def test_local_time():
    moments = pd.Series(pd.to_datetime(["2026-07-01 12:00"], utc=True))
    assert common.to_local_time(moments, "Europe/Berlin").tolist() == [pd.Timestamp("2026-07-01 14:00")]


def test_local_context_reads_the_lake_folder(tmp_path):
    ctx = context.build_context(load_settings({"VERTICALS_LAKE": str(tmp_path / "lake")}))
    assert (ctx.backend, ctx.location) == ("local", str(tmp_path / "lake"))
    assert "lake-archive" in ctx.rules and "crm-webhook-dlq" in ctx.dead_letters.queues()
    assert (
        ctx.engine.run("SELECT count(*) AS n FROM orders WHERE dt >= :d", {"d": "2026-01-01"}).frame["n"][0]
        == 0
    )


def test_the_aws_backend_without_resources_is_one_clear_error():
    with pytest.raises(AwsError, match="VERTICALS_STACK"):
        context.build_context(load_settings({"VERTICALS_BACKEND": "aws"}))


def test_whole_buckets_leave_out_cut_ones():
    rng = custom_range(date(2026, 11, 2), date(2026, 11, 2))
    rolling = type(rng)(
        pd.Timestamp("2026-11-02 00:30", tz="UTC").to_pydatetime(),
        pd.Timestamp("2026-11-02 03:30", tz="UTC").to_pydatetime(),
        "x",
        "x",
    )
    frame = pd.DataFrame({"bucket": pd.date_range("2026-11-02", periods=4, freq="h", tz="UTC")})
    kept = common.whole_buckets(frame, "bucket", pd.Timedelta(hours=1), rolling)
    assert kept["bucket"].dt.hour.tolist() == [1, 2]


def test_local_dead_letters_depth(tmp_path):
    (tmp_path / "q.jsonl").write_text('{"a": 1}\n\n{"a": 2}\n')
    letters = LocalDeadLetters(tmp_path, ["q", "missing"])
    assert (letters.depth("q"), letters.depth("missing")) == (2, 0)
