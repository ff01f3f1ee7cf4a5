import pytest

from app.engines.sqlparams import parse_query, placeholders
from app.services import explorer
from app.services.explorer import EventQuery


@pytest.mark.parametrize(
    ("query", "bound"),
    [
        pytest.param(EventQuery(), {}, id="everything"),
        pytest.param(
            EventQuery(sources=("verticals.shop", "verticals.crm")),
            {"source0": "verticals.shop", "source1": "verticals.crm"},
            id="sources",
        ),
        pytest.param(
            EventQuery(detail_types=("OrderPlaced",), text="  ORD-1 "),
            {"detail_type0": "OrderPlaced", "text": "ord-1"},  # matched in any case
            id="type-and-text",
        ),
        pytest.param(
            EventQuery(text="x' OR '1'='1"), {"text": "x' or '1'='1"}, id="hostile-text-stays-bound"
        ),
    ],
)
def test_find_sql_binds_every_value(query, bound):
    sql, params = explorer.find_sql(query)
    assert params == bound
    assert set(placeholders(parse_query(sql))) == set(bound) | {"dt_from", "dt_to", "t_from", "t_to"}
    for value in bound.values():
        assert value not in sql


@pytest.mark.parametrize(
    ("limit", "written"),
    [
        pytest.param(10, "LIMIT 10", id="asked"),
        pytest.param(10_000, "LIMIT 500", id="capped"),
        pytest.param(0, "LIMIT 1", id="at-least-one"),
    ],
)
def test_limit_is_clamped(limit, written):
    assert written in explorer.find_sql(EventQuery(limit=limit))[0]


def test_long_text_is_cut():
    _, params = explorer.find_sql(EventQuery(text="x" * 1000))
    assert len(params["text"]) == explorer.TEXT_MAX


@pytest.mark.parametrize(
    ("detail", "summary"),
    [
        pytest.param(
            '{"order_id": "ORD-1", "amount": 12.5, "items": [1]}', "order_id=ORD-1, amount=12.5", id="fields"
        ),
        pytest.param("not json", "not json", id="not-json"),
    ],
)
def test_summary(detail, summary):
    assert explorer._summary(detail) == summary


def test_detail_types_follow_the_chosen_sources():
    assert explorer.detail_type_choices(("verticals.logistics",)) == ["OrderDelivered", "DeliveryDelayed"]
    assert len(explorer.detail_type_choices()) == len(set(explorer.detail_type_choices())) >= 15
