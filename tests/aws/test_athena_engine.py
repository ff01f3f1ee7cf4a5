"""The Athena engine against botocore's Stubber: the exact requests it sends, and what it
makes of the answers."""

from __future__ import annotations

import io
import random
from datetime import date

import boto3
import pandas as pd
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from app.engines.athena import (
    AthenaEngine,
    AthenaOptions,
    check_placeholders,
    cost_usd,
    execution_parameters,
    frame_from_csv,
)
from app.engines.base import QueryError
from app.engines.sqlparams import parse_query

QID = "4f7c1f2e-0000-4000-8000-000000000001"
TOKEN = "0123456789abcdef0123456789abcdef"
RESULTS = "s3://verticals-results/results/"
SQL = (
    "SELECT dt, count(*) AS orders FROM orders "
    "WHERE dt BETWEEN :start AND :end AND region = :region GROUP BY dt"
)
POSITIONAL = "SELECT dt, COUNT(*) AS orders FROM orders WHERE dt BETWEEN ? AND ? AND region = ? GROUP BY dt"
PARAMS = {"start": "2026-01-01", "end": "2026-01-07", "region": "O'Brien's"}
CSV = b'"dt","orders"\n"2026-01-01","12"\n"2026-01-02","7"\n'


class Clock:
    """A fake monotonic clock that the fake sleep advances."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def stubbed():
    athena = boto3.client("athena", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(athena) as athena_stub, Stubber(s3) as s3_stub:
        yield athena, s3, athena_stub, s3_stub
        athena_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()


def make_engine(athena, s3, clock: Clock, **options) -> AthenaEngine:
    opts = AthenaOptions(workgroup="verticals", database="verticals", **options)
    return AthenaEngine(
        athena, s3, opts, sleep=clock.sleep, clock=clock, rng=random.Random(7), new_token=lambda: TOKEN
    )


def start_params(**overrides):
    params = {
        "QueryString": POSITIONAL,
        "ClientRequestToken": TOKEN,
        "QueryExecutionContext": {"Database": "verticals", "Catalog": "AwsDataCatalog"},
        "WorkGroup": "verticals",
        "ExecutionParameters": ["'2026-01-01'", "'2026-01-07'", "'O''Brien''s'"],
        "ResultReuseConfiguration": {
            "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 60}
        },
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def execution(state: str, scanned: int = 0, reused: bool = False, reason: str = "") -> dict:
    status = {"State": state}
    if reason:
        status["StateChangeReason"] = reason
    return {
        "QueryExecution": {
            "QueryExecutionId": QID,
            "Status": status,
            "ResultConfiguration": {"OutputLocation": f"{RESULTS}{QID}.csv"},
            "Statistics": {
                "DataScannedInBytes": scanned,
                "EngineExecutionTimeInMillis": 900,
                "ResultReuseInformation": {"ReusedPreviousResult": reused},
            },
        }
    }


def metadata(*columns: tuple[str, str]) -> dict:
    return {
        "ResultSet": {
            "Rows": [],
            "ResultSetMetadata": {
                "ColumnInfo": [
                    {
                        "Name": n,
                        "Label": n,
                        "Type": t,
                        "CatalogName": "hive",
                        "SchemaName": "",
                        "TableName": "",
                    }
                    for n, t in columns
                ]
            },
        }
    }


def expect_result(athena_stub, s3_stub, body: bytes = CSV, columns=(("dt", "varchar"), ("orders", "bigint"))):
    athena_stub.add_response(
        "get_query_results", metadata(*columns), {"QueryExecutionId": QID, "MaxResults": 1}
    )
    s3_stub.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body))},
        {"Bucket": "verticals-results", "Key": f"results/{QID}.csv"},
    )


def test_run_sends_the_exact_requests_and_types_the_result(stubbed):
    athena, s3, athena_stub, s3_stub = stubbed
    clock = Clock()
    athena_stub.add_response("start_query_execution", {"QueryExecutionId": QID}, start_params())
    athena_stub.add_response("get_query_execution", execution("QUEUED"), {"QueryExecutionId": QID})
    athena_stub.add_response("get_query_execution", execution("RUNNING"), {"QueryExecutionId": QID})
    athena_stub.add_response(
        "get_query_execution", execution("SUCCEEDED", scanned=25 * 1024**2 + 1), {"QueryExecutionId": QID}
    )
    expect_result(athena_stub, s3_stub)

    result = make_engine(athena, s3, clock).run(SQL, PARAMS)

    assert result.query_id == QID
    assert result.engine == "athena"
    assert result.sql == POSITIONAL
    assert result.bytes_scanned == 25 * 1024**2 + 1
    assert result.cost_usd == pytest.approx(26 * 5.0 / 1024**2)  # rounded up to 26 MB
    assert result.extra["execution_parameters"] == ["'2026-01-01'", "'2026-01-07'", "'O''Brien''s'"]
    assert result.frame["dt"].tolist() == ["2026-01-01", "2026-01-02"]
    assert result.frame["orders"].tolist() == [12, 7]
    assert str(result.frame["orders"].dtype) == "int64"
    assert clock.sleeps == [0.2, pytest.approx(0.3)]  # polls back off


def test_reuse_off_sends_no_reuse_configuration_and_no_parameters_when_there_are_none(stubbed):
    athena, s3, athena_stub, s3_stub = stubbed
    sql = "SELECT count(*) AS n FROM orders WHERE dt = '2026-01-01'"
    expected = start_params(
        QueryString="SELECT COUNT(*) AS n FROM orders WHERE dt = '2026-01-01'",
        ExecutionParameters=None,
        ResultReuseConfiguration=None,
    )
    athena_stub.add_response("start_query_execution", {"QueryExecutionId": QID}, expected)
    athena_stub.add_response(
        "get_query_execution", execution("SUCCEEDED", scanned=0), {"QueryExecutionId": QID}
    )
    expect_result(athena_stub, s3_stub, b'"n"\n"3"\n', (("n", "bigint"),))

    result = make_engine(athena, s3, Clock(), reuse_max_age_minutes=0).run(sql)

    assert result.frame["n"].tolist() == [3]
    assert result.cost_usd == pytest.approx(10 * 5.0 / 1024**2)  # the 10 MB minimum


def test_reused_result_costs_nothing(stubbed):
    athena, s3, athena_stub, s3_stub = stubbed
    athena_stub.add_response("start_query_execution", {"QueryExecutionId": QID}, start_params())
    athena_stub.add_response(
        "get_query_execution", execution("SUCCEEDED", scanned=0, reused=True), {"QueryExecutionId": QID}
    )
    expect_result(athena_stub, s3_stub)

    result = make_engine(athena, s3, Clock()).run(SQL, PARAMS)

    assert result.extra["reused"] is True
    assert result.cost_usd == 0.0


def test_timeout_stops_the_query(stubbed):
    athena, s3, athena_stub, _ = stubbed
    clock = Clock()
    athena_stub.add_response("start_query_execution", {"QueryExecutionId": QID}, start_params())
    for _ in range(3):  # at 0 s, 0.2 s and 0.5 s: then the timeout has passed
        athena_stub.add_response("get_query_execution", execution("RUNNING"), {"QueryExecutionId": QID})
    athena_stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QID})
    stopped = execution("CANCELLED", scanned=300 * 1024**2, reason="Query was cancelled by user")
    athena_stub.add_response("get_query_execution", stopped, {"QueryExecutionId": QID})

    with pytest.raises(QueryError, match=r"longer than 0.5 s and was stopped .*" + QID) as info:
        make_engine(athena, s3, clock, timeout_s=0.5).run(SQL, PARAMS)
    assert clock.sleeps == [0.2, pytest.approx(0.3)]
    # Athena bills a stopped query for what it scanned: 300 MB at $5/TB
    assert info.value.bytes_scanned == 300 * 1024**2
    assert info.value.cost_usd == pytest.approx(300 * 5 / 1024**2)
    assert "(scanned 300.0 MB, billed $0.001431)." in str(info.value) and "\n" not in str(info.value)


def test_a_stopped_query_whose_statistics_cannot_be_read_shows_the_last_seen(stubbed):
    athena, s3, athena_stub, _ = stubbed
    athena_stub.add_response("start_query_execution", {"QueryExecutionId": QID}, start_params())
    for _ in range(3):
        running = execution("RUNNING", scanned=50 * 1024**2)
        athena_stub.add_response("get_query_execution", running, {"QueryExecutionId": QID})
    athena_stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QID})
    athena_stub.add_client_error(
        "get_query_execution", "InternalServerException", "oops", expected_params={"QueryExecutionId": QID}
    )
    with pytest.raises(QueryError, match="was stopped") as info:
        make_engine(athena, s3, Clock(), timeout_s=0.5).run(SQL, PARAMS)
    assert info.value.bytes_scanned == 50 * 1024**2 and info.value.cost_usd == pytest.approx(50 * 5 / 1024**2)


@pytest.mark.parametrize(
    ("state", "reason", "scanned", "cost", "note"),
    [
        pytest.param(
            "CANCELLED",
            "Query was cancelled by user",
            2 * 1024**3,
            2 * 1024 * 5 / 1024**2,
            "(scanned 2,048.0 MB, billed $0.009766).",
            id="cancelled-billed",
        ),
        pytest.param(
            "CANCELLED",
            "Query was cancelled by user",
            1024,
            10 * 5 / 1024**2,
            "(scanned 0.0 MB, billed $0.000048).",
            id="cancelled-10-MB-minimum",
        ),
        pytest.param(
            "FAILED",
            "Query cancelled! Bytes scanned limit was exceeded",
            10 * 1024**3,
            10 * 1024 * 5 / 1024**2,
            "(scanned 10,240.0 MB, billed $0.0488).",
            id="scan-cutoff-billed",
        ),
        pytest.param(
            "FAILED",
            "COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved",
            5 * 1024**2,
            0.0,
            "(scanned 5.0 MB, not billed: Athena does not bill failed queries).",
            id="failed-not-billed",
        ),
    ],
)
def test_queries_without_a_result_carry_their_cost(stubbed, state, reason, scanned, cost, note):
    athena, s3, athena_stub, _ = stubbed
    athena_stub.add_response("start_query_execution", {"QueryExecutionId": QID}, start_params())
    ended = execution(state, scanned=scanned, reason=reason)
    athena_stub.add_response("get_query_execution", ended, {"QueryExecutionId": QID})
    with pytest.raises(QueryError) as info:
        make_engine(athena, s3, Clock()).run(SQL, PARAMS)
    assert info.value.query_id == QID and info.value.bytes_scanned == scanned
    assert info.value.cost_usd == pytest.approx(cost)
    assert str(info.value).endswith(note)


@pytest.mark.parametrize("code", ["ThrottlingException", "TooManyRequestsException"])
def test_throttled_calls_are_retried_with_backoff_and_the_same_token(stubbed, code):
    athena, s3, athena_stub, s3_stub = stubbed
    clock = Clock()
    for _ in range(2):
        athena_stub.add_client_error(
            "start_query_execution", code, "Rate exceeded", expected_params=start_params()
        )
    athena_stub.add_response("start_query_execution", {"QueryExecutionId": QID}, start_params())
    athena_stub.add_client_error(
        "get_query_execution", code, "Rate exceeded", expected_params={"QueryExecutionId": QID}
    )
    athena_stub.add_response("get_query_execution", execution("SUCCEEDED", 1), {"QueryExecutionId": QID})
    expect_result(athena_stub, s3_stub)

    result = make_engine(athena, s3, clock).run(SQL, PARAMS)

    assert result.query_id == QID
    assert len(clock.sleeps) == 3
    # full jitter: attempt n waits at most base * 2^n
    assert clock.sleeps[0] <= 0.5 and clock.sleeps[1] <= 1.0 and clock.sleeps[2] <= 0.5


def test_throttling_that_never_ends_gives_up_with_one_sentence(stubbed):
    athena, s3, athena_stub, _ = stubbed
    for _ in range(3):
        athena_stub.add_client_error(
            "start_query_execution", "ThrottlingException", "Rate exceeded", expected_params=start_params()
        )
    with pytest.raises(QueryError, match="throttled StartQueryExecution even after retries"):
        make_engine(athena, s3, Clock(), max_attempts=3).run(SQL, PARAMS)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        pytest.param(
            "InvalidRequestException",
            "WorkGroup verticals is not found.",
            "Athena workgroup verticals does not exist",
            id="missing-workgroup",
        ),
        pytest.param(
            "AccessDeniedException",
            "User is not authorized to perform athena:StartQueryExecution",
            "AWS denied StartQueryExecution",
            id="denied",
        ),
        pytest.param(
            "ExpiredTokenException",
            "The security token included in the request is expired",
            "expired or invalid",
            id="expired-token",
        ),
    ],
)
def test_start_failures_become_one_sentence(stubbed, code, message, expected):
    athena, s3, athena_stub, _ = stubbed
    athena_stub.add_client_error("start_query_execution", code, message, expected_params=start_params())
    with pytest.raises(QueryError, match=expected) as info:
        make_engine(athena, s3, Clock()).run(SQL, PARAMS)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        pytest.param(
            "FAILED",
            "COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved",
            "could not run the query .*COLUMN_NOT_FOUND",
            id="failed",
        ),
        pytest.param(
            "FAILED",
            "Query cancelled! Bytes scanned limit was exceeded",
            "BytesScannedCutoffPerQuery",
            id="scan-cutoff",
        ),
        pytest.param("CANCELLED", "Query was cancelled by user", "was cancelled", id="cancelled"),
    ],
)
def test_failed_queries_say_why(stubbed, state, reason, expected):
    athena, s3, athena_stub, _ = stubbed
    athena_stub.add_response("start_query_execution", {"QueryExecutionId": QID}, start_params())
    athena_stub.add_response(
        "get_query_execution", execution(state, reason=reason), {"QueryExecutionId": QID}
    )
    with pytest.raises(QueryError, match=expected):
        make_engine(athena, s3, Clock()).run(SQL, PARAMS)


def test_parameter_problems_are_caught_before_anything_is_sent(stubbed):
    athena, s3, _, _ = stubbed  # no stubbed responses: any call would fail the test
    engine = make_engine(athena, s3, Clock())
    with pytest.raises(QueryError, match="missing value for parameter :region"):
        engine.run(SQL, {"start": "2026-01-01", "end": "2026-01-02"})
    with pytest.raises(QueryError, match=":n is in LIMIT"):
        engine.run("SELECT * FROM orders WHERE dt = :d LIMIT :n", {"d": "2026-01-01", "n": 5})
    with pytest.raises(QueryError, match="only SELECT"):
        engine.run("DROP TABLE orders")


def test_tables_pages_through_list_table_metadata(stubbed):
    athena, s3, athena_stub, _ = stubbed
    base = {"CatalogName": "AwsDataCatalog", "DatabaseName": "verticals", "WorkGroup": "verticals"}
    athena_stub.add_response(
        "list_table_metadata", {"TableMetadataList": [{"Name": "orders"}], "NextToken": "t"}, base
    )
    athena_stub.add_response(
        "list_table_metadata", {"TableMetadataList": [{"Name": "events"}]}, {**base, "NextToken": "t"}
    )
    assert make_engine(athena, s3, Clock()).tables() == ["events", "orders"]


@pytest.mark.parametrize(
    ("scanned", "reused", "expected_mb"),
    [
        pytest.param(0, False, 10, id="nothing-scanned-pays-the-minimum"),
        pytest.param(1, False, 10, id="one-byte"),
        pytest.param(10 * 1024**2, False, 10, id="exactly-10-MB"),
        pytest.param(10 * 1024**2 + 1, False, 11, id="rounded-up-to-the-MB"),
        pytest.param(1024**4, False, 1024**2, id="one-TB"),
        pytest.param(5 * 1024**3, True, 0, id="reused-is-free"),
    ],
)
def test_cost(scanned, reused, expected_mb):
    assert cost_usd(scanned, 5.0, reused) == pytest.approx(expected_mb * 5.0 / 1024**2)


def test_cost_of_a_terabyte_is_the_price():
    assert cost_usd(1024**4, 5.0) == pytest.approx(5.0)
    assert cost_usd(1024**4, 6.25) == pytest.approx(6.25)


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        pytest.param("SELECT 1 FROM orders WHERE dt = :d", None, id="where"),
        pytest.param(
            "SELECT 1 FROM orders WHERE dt IN (SELECT dt FROM payments WHERE method = :m)",
            None,
            id="subquery-where",
        ),
        pytest.param(
            "WITH o AS (SELECT * FROM orders WHERE dt >= :d) SELECT count(*) FROM o", None, id="cte-where"
        ),
        pytest.param("SELECT 1 FROM orders WHERE contains(:regions, region)", None, id="function-in-where"),
        pytest.param("SELECT :d AS x FROM orders", "SELECT", id="select-list"),
        pytest.param("SELECT * FROM orders WHERE dt = '2026-01-01' LIMIT :n", "LIMIT", id="limit"),
        pytest.param("SELECT region FROM orders GROUP BY region HAVING count(*) > :n", "HAVING", id="having"),
        pytest.param(
            "SELECT 1 FROM orders o JOIN payments p ON p.order_id = o.order_id AND p.method = :m",
            "JOIN",
            id="join-on",
        ),
    ],
)
def test_placeholders_only_in_where(sql, error):
    tree = parse_query(sql)
    if error is None:
        check_placeholders(tree)
    else:
        with pytest.raises(QueryError, match=f"in {error}"):
            check_placeholders(tree)


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        pytest.param("x'; DROP TABLE orders; --", "'x''; DROP TABLE orders; --'", id="injection"),
        pytest.param("back\\slash", "'back\\slash'", id="backslash-is-literal"),
        pytest.param("a?b", "'a?b'", id="question-mark-in-value"),
        pytest.param(date(2026, 1, 2), "DATE '2026-01-02'", id="date"),
        pytest.param(["web", "app"], "ARRAY['web', 'app']", id="multienum"),
        pytest.param(3, "3", id="integer"),
    ],
)
def test_execution_parameters_are_literals(value, literal):
    assert execution_parameters(["p"], {"p": value}) == [literal]


def test_a_parameter_longer_than_athena_takes_is_refused():
    with pytest.raises(QueryError, match="at most 1024"):
        execution_parameters(["p"], {"p": "x" * 1023})


CSV_CASES = [
    pytest.param(b'"n"\n"1"\n', [("n", "integer")], "n", [1], "int64", id="integer"),
    pytest.param(
        b'"n"\n"1"\n\n"2"\n',
        [("n", "bigint")],
        "n",
        [1, pd.NA, 2],
        "Int64",
        id="single-column-null-is-an-empty-line",
    ),
    pytest.param(
        b'"n","m"\n"1",\n,"2"\n',
        [("n", "bigint"), ("m", "bigint")],
        "n",
        [1, pd.NA],
        "Int64",
        id="null-integer-stays-integer",
    ),
    pytest.param(
        b'"x"\n"1.10"\n"NaN"\n',
        [("x", "decimal(10,2)")],
        "x",
        [1.1, float("nan")],
        "float64",
        id="decimal-as-float",
    ),
    pytest.param(b'"b"\n"true"\n"false"\n', [("b", "boolean")], "b", [True, False], "bool", id="boolean"),
    pytest.param(b'"s"\n""\n\n', [("s", "varchar")], "s", ["", None], "str", id="empty-string-is-not-null"),
    pytest.param(
        b'"s"\n"a,""b""\nc"\n', [("s", "varchar")], "s", ['a,"b"\nc'], "str", id="quotes-commas-newlines"
    ),
    pytest.param(
        b'"d"\n"2026-01-02"\n',
        [("d", "date")],
        "d",
        [pd.Timestamp("2026-01-02")],
        "datetime64[us]",
        id="date",
    ),
    pytest.param(
        b'"t"\n"2026-01-02 10:00:00.250"\n',
        [("t", "timestamp")],
        "t",
        [pd.Timestamp("2026-01-02 10:00:00.250", tz="UTC")],
        "datetime64[us, UTC]",
        id="timestamp-utc",
    ),
    pytest.param(
        b'"t"\n"2026-01-02 10:00:00.000 UTC"\n',
        [("t", "timestamp with time zone")],
        "t",
        [pd.Timestamp("2026-01-02 10:00:00", tz="UTC")],
        "datetime64[us, UTC]",
        id="timestamp-with-zone",
    ),
    pytest.param(b'"a"\n"[x, y]"\n', [("a", "array(varchar)")], "a", ["[x, y]"], "str", id="array-as-text"),
]


@pytest.mark.parametrize(("data", "columns", "column", "values", "dtype"), CSV_CASES)
def test_frame_from_csv_types_columns(data, columns, column, values, dtype):
    frame = frame_from_csv(data, columns)
    got = frame[column].tolist()
    assert len(got) == len(values)
    for g, v in zip(got, values, strict=True):
        assert (pd.isna(g) and pd.isna(v)) or g == v
    assert str(frame[column].dtype) == dtype


def test_frame_from_csv_empty_result_keeps_its_columns():
    frame = frame_from_csv(b'"dt","orders"\n', [("dt", "varchar"), ("orders", "bigint")])
    assert list(frame.columns) == ["dt", "orders"] and frame.empty
    assert frame_from_csv(b"", [("n", "bigint")]).empty
