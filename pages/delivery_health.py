"""Delivery health: did each rule deliver what it matched, how fast, and what was
dead-lettered (browse the dead letters, redrive them after a confirmation)."""

from datetime import datetime
from functools import partial

import pandas as pd
import plotly.express as px
import streamlit as st

from app import clock, ui
from app.services import delivery

VERSION_KEY = "dlq_version"  # bumped after a redrive or a refresh: the queues are read again
PENDING_KEY = "dlq_pending"
REPORT_KEY = "dlq_report"
RECENT_COLOURS = {
    "Invocations": "#1f77b4",
    "RetryInvocationAttempts": "#ff7f0e",
    "FailedInvocations": "#d62728",
}

view = ui.view()
ctx = view.ctx
may_redrive = ui.may("redrive")  # ops: the redrive controls and the audit trail
ui.page_header(
    "Delivery health",
    "Per rule: matched events, invocations, failures and latency (CloudWatch's "
    "AWS/Events metrics), the lake's Firehose streams and the dead-letter queues",
    view.range,
)
live = ui.live_toggle(view, key="delivery_live")
version = st.session_state.setdefault(VERSION_KEY, 0)

COUNT_CONFIG = {
    "rule": st.column_config.TextColumn("Rule", pinned=True),
    "targets": st.column_config.TextColumn("Targets", help="Target id (kind → dead-letter queue)"),
    "matched": st.column_config.NumberColumn("Matched", format="localized", help="MatchedEvents"),
    "triggered": st.column_config.NumberColumn("Triggered", format="localized", help="TriggeredRules"),
    "invocations": st.column_config.NumberColumn("Invocations", format="localized", help="Invocations"),
    "failed": st.column_config.NumberColumn("Failed", format="localized", help="FailedInvocations"),
    "failure_rate": st.column_config.NumberColumn(
        "Failure rate", format="percent", help="FailedInvocations / Invocations"
    ),
    "attempts": st.column_config.NumberColumn("Attempts", format="localized", help="InvocationAttempts"),
    "successful_attempts": st.column_config.NumberColumn(
        "Succeeded", format="localized", help="SuccessfulInvocationAttempts"
    ),
    "retries": st.column_config.NumberColumn("Retries", format="localized", help="RetryInvocationAttempts"),
    "throttled": st.column_config.NumberColumn("Throttled", format="localized", help="ThrottledRules"),
    "sent_to_dlq": st.column_config.NumberColumn("To DLQ", format="localized", help="InvocationsSentToDlq"),
    "failed_to_dlq": st.column_config.NumberColumn(
        "DLQ failed", format="localized", help="InvocationsFailedToBeSentToDlq: lost events"
    ),
    "latency_ms": st.column_config.NumberColumn(
        "Start latency (ms)", format="%.1f", help="IngestionToInvocationStartLatency, mean"
    ),
}
LETTER_CONFIG = {
    "sent_at": st.column_config.DatetimeColumn("Sent", format="YYYY-MM-DD HH:mm:ss"),
    "rule": "Rule",
    "target": "Target",
    "detail_type": "Detail type",
    "ERROR_CODE": "Error code",
    "ERROR_MESSAGE": "Error message",
    "RETRY_ATTEMPTS": st.column_config.NumberColumn("Retries", format="%d"),
    "EXHAUSTED_RETRY_CONDITION": "Exhausted",
    "event_id": "Event id",
    "source": "Source",
    "detail": "Detail",
    "message_id": "Message id",
}


def kpis(health: delivery.DeliveryMetrics) -> None:
    rules = health.rules
    worst = rules.iloc[0] if not rules.empty else None
    ui.kpi_row(
        [
            ui.Figure("Matched events", f"{rules['matched'].sum():,.0f}"),
            ui.Figure(
                "Invocations",
                f"{rules['invocations'].sum():,.0f}",
                caption=f"{rules['retries'].sum():,.0f} retries",
            ),
            ui.Figure(
                "Failed invocations",
                f"{rules['failed'].sum():,.0f}",
                inverse=True,
                caption=f"worst: {ui.plain(worst['rule'])}"
                if worst is not None and worst["failed"] > 0
                else None,
            ),
            ui.Figure(
                "Dead letters waiting",
                f"{health.waiting:,}",
                inverse=True,
                caption=", ".join(f"{ui.plain(q)}: {n:,}" for q, n in health.queue_depth.items() if n)
                or "every queue is empty",
            ),
        ]
    )


def recent_chart(rng_now: datetime) -> None:
    recent = ui.load(delivery.recent_activity, ctx, rng_now, what="the last hour", token=ui.live_token(live))
    if recent is None or recent.empty:
        st.caption("No deliveries in the last hour.")
        return
    figure = px.line(
        recent,
        x="timestamp",
        y="value",
        color="metric",
        title="Last hour, per minute (all rules)",
        labels={"timestamp": "", "value": ""},
        category_orders={"metric": list(delivery.RECENT_METRICS)},
        color_discrete_map=RECENT_COLOURS,
    )
    ui.chart(figure, height=260, key="delivery_recent")


def rules_table(health: delivery.DeliveryMetrics) -> None:
    st.subheader("Rules, worst first")
    columns = [c for c in health.rules.columns if c != "latency_ms" or health.has_latency]
    ui.table(health.rules, hide_index=True, column_order=columns, column_config=COUNT_CONFIG)


def latency_table(health: delivery.DeliveryMetrics) -> None:
    if not health.has_latency:
        return
    st.subheader("Latency from ingestion, slowest first")
    table = health.latency
    columns = (
        delivery.LATENCY_COLUMNS if health.has_percentiles else ["rule", "latency", "samples", "mean_ms"]
    )
    ui.table(
        table,
        hide_index=True,
        column_order=columns,
        column_config={
            "rule": st.column_config.TextColumn("Rule", pinned=True),
            "latency": "Latency",
            "samples": st.column_config.NumberColumn("Deliveries", format="localized"),
            "mean_ms": st.column_config.NumberColumn("Mean (ms)", format="%.1f"),
            "p50": st.column_config.NumberColumn("p50 (ms)", format="%.1f"),
            "p90": st.column_config.NumberColumn("p90 (ms)", format="%.1f"),
            "p99": st.column_config.NumberColumn("p99 (ms)", format="%.1f"),
        },
    )
    if not health.has_percentiles:
        st.caption("Percentiles are not available from this metrics source: means only.")
    elif ctx.backend == "local":
        st.caption(
            "Percentiles are read from histograms of about 12 % wide buckets: below 1 ms they only mean "
            '"under 1 ms" (seeded history is delivered at ingestion, 0 ms).'
        )


def rule_chart(health: delivery.DeliveryMetrics) -> None:
    names = health.rules["rule"].tolist()
    failing = health.rules.loc[health.rules["failed"] > 0, "rule"].tolist()
    chosen = st.multiselect("Rules to chart", names, default=failing[:3] or names[:3], key="delivery_rules")
    series = health.series[health.series["rule"].isin(chosen)]
    if not health.has_latency:
        series = series[~series["metric"].isin(delivery.LATENCIES)]
    if not chosen:
        st.info("Pick one or more rules to chart.")
        return
    if series.empty:
        st.info("The rules picked have no metrics in this range.")
        return
    shown = [m for m in delivery.CHART_METRICS if m in set(series["metric"])]
    figure = px.line(
        series,
        x="timestamp",
        y="value",
        color="rule",
        facet_col="metric",
        facet_col_wrap=2,
        facet_row_spacing=0.08,
        category_orders={"metric": shown},
        labels={"timestamp": "", "value": ""},
    )
    figure.update_yaxes(matches=None, showticklabels=True, rangemode="tozero")
    figure.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    ui.chart(figure, height=160 * ((series["metric"].nunique() + 1) // 2) + 80, key="delivery_rules_chart")


def put_events_row(figures: delivery.PutEventsFigures) -> None:
    if not figures.any:
        return
    st.subheader("PutEvents, account-wide")
    size = "—" if figures.mean_request_bytes is None else f"{figures.mean_request_bytes / 1024:,.1f} KB"
    latency = "—" if figures.mean_latency_ms is None else f"{figures.mean_latency_ms:,.1f} ms"
    ui.kpi_row(
        [
            ui.Figure(
                "Entries put",
                f"{figures.entries:,.0f}",
                trend=figures.trend or None,
                caption=(
                    f"{figures.calls:,.0f} call{'s' if figures.calls != 1 else ''}, {size} each on average"
                ),
            ),
            ui.Figure(
                "Failed entries",
                f"{figures.failed_entries:,.0f}",
                inverse=True,
                caption=f"{figures.failed:,.0f} calls with a failed entry",
            ),
            ui.Figure(
                "Throttled calls",
                f"{figures.throttled:,.0f}",
                inverse=True,
                help="PutEventsApproximateThrottledCount: calls refused for the request rate",
            ),
            ui.Figure("PutEvents latency", latency, help="PutEventsLatency, mean"),
        ]
    )
    if ctx.backend == "local":
        st.caption(
            "Counted by the bus API (`bus serve`): seeded history reaches the bus without PutEvents calls."
        )


def lake_streams_table(health: delivery.DeliveryMetrics) -> None:
    st.subheader("Lake delivery")
    streams = health.lake_streams
    if streams is None:
        st.caption(
            "The local bus writes the lake's Parquet files itself: there is no Firehose stream to watch."
        )
        return
    ui.table(
        streams,
        hide_index=True,
        column_order=["table", "stream", "failed_conversion", "delivery_failed", "max_freshness_s"],
        column_config={
            "table": st.column_config.TextColumn("Table", pinned=True),
            "stream": "Firehose stream",
            "failed_conversion": st.column_config.NumberColumn(
                "Failed conversion", format="localized", help="FailedConversion.Records, sum"
            ),
            "delivery_failed": st.column_config.CheckboxColumn(
                "S3 delivery failed", help="DeliveryToS3.Success below 1 in the range"
            ),
            "max_freshness_s": st.column_config.NumberColumn(
                "Worst freshness (s)", format="localized", help="DeliveryToS3.DataFreshness, maximum"
            ),
        },
    )
    if health.lake_failures:  # stream names and the bucket come from the stack: shown as text
        st.warning(ui.plain(delivery.lake_failure_sentence(streams)), icon=":material/warning:")


@ui.live_fragment(live)
def metrics_section() -> None:
    rng = ui.live_range(view.range) if live else view.range
    health = ui.load(
        delivery.delivery_metrics, ctx, rng, what="the bus metrics", token=(ui.live_token(live), version)
    )
    if health is None:
        return
    if health.is_empty:
        ui.empty_state(
            "No bus metrics or dead letters in this range — seed the lake with `make run` or widen the range."
        )
        return
    ui.refreshed_caption(live, ctx.settings.timezone)
    kpis(health)
    if live:
        recent_chart(clock.now().replace(second=0, microsecond=0))
    rules_table(health)
    latency_table(health)
    rule_chart(health)
    put_events_row(health.put_events)
    lake_streams_table(health)


# --- dead letters: browse and redrive (not live: a selection must not move under the user)


def pick_rows(table_key: str, pick_key: str, ids: list[str]) -> None:
    rows = st.session_state[table_key]["selection"]["rows"]
    st.session_state[pick_key] = [ids[i] for i in rows]


def select_all(pick_key: str, ids: list[str]) -> None:
    st.session_state[pick_key] = list(ids)


def letter_label(letters: pd.DataFrame) -> dict[str, str]:
    return {
        row.message_id: f"{row.sent_at:%Y-%m-%d %H:%M:%S} · {row.detail_type or '?'} · {row.ERROR_CODE} · "
        f"{row.message_id[:8]}"
        for row in letters.itertuples()
    }


def confirm_redrive() -> None:
    pending = st.session_state.get(PENDING_KEY)
    if not pending:
        return
    with st.container(border=True):
        st.warning(ui.plain(pending["question"]), icon=":material/replay:")  # names from dead letters
        left, right, _ = st.columns([1, 1, 4])
        if left.button("Confirm redrive", type="primary", key="dlq_confirm"):
            report = ui.act_as(  # checks the role again now, and records the attempt
                "redrive",
                "redrive",
                delivery.redrive,
                ctx,
                pending["queue"],
                pending["ids"],
                what="redrive the messages",
                target=pending["queue"],
                count=len(pending["ids"]),
            )
            del st.session_state[PENDING_KEY]
            if report is not None:
                st.session_state[REPORT_KEY] = (report.sentence, report.ok)
                st.session_state[VERSION_KEY] = version + 1
                st.rerun()
        if right.button("Cancel", key="dlq_cancel"):
            del st.session_state[PENDING_KEY]
            st.rerun()


def show_report() -> None:
    report = st.session_state.pop(REPORT_KEY, None)
    if report:
        sentence, ok = report
        (st.success if ok else st.warning)(ui.plain(sentence), icon=":material/replay:")


def browse(letters: pd.DataFrame, depth: dict[str, int]) -> None:
    queues = list(dict.fromkeys(letters["queue"]))
    queue = st.selectbox("Queue", queues, key="dlq_queue")
    in_queue = letters[letters["queue"] == queue]
    st.caption(f"{depth.get(queue, 0):,} waiting; the newest {len(in_queue):,} read.")
    codes = sorted(in_queue["ERROR_CODE"].unique())
    chosen = st.multiselect("Error codes", codes, key=f"dlq_codes:{queue}", placeholder="All error codes")
    shown = in_queue[in_queue["ERROR_CODE"].isin(chosen or codes)].reset_index(drop=True)
    ids = shown["message_id"].tolist()
    table_key, pick_key = f"dlq_table:{version}:{queue}", f"dlq_pick:{version}:{queue}"
    ui.table(
        shown,
        hide_index=True,
        key=table_key,
        on_select=partial(pick_rows, table_key, pick_key, ids),
        selection_mode="multi-row",
        column_config=LETTER_CONFIG,
        column_order=[
            "sent_at",
            "rule",
            "target",
            "detail_type",
            "ERROR_CODE",
            "ERROR_MESSAGE",
            "RETRY_ATTEMPTS",
            "EXHAUSTED_RETRY_CONDITION",
            "event_id",
            "source",
            "detail",
            "RULE_ARN",
            "TARGET_ARN",
            "message_id",
        ],
    )
    if not may_redrive:
        st.caption("Redriving dead letters is for ops.")
        confirm_redrive()  # refuses, and records the attempt, if a redrive is pending anyway
        return
    labels = letter_label(shown)
    picked = st.multiselect(
        "Messages to redrive (or tick rows in the table)", ids, format_func=labels.__getitem__, key=pick_key
    )
    left, right, _ = st.columns([1, 1, 3])
    left.button(f"Select all {len(ids):,} shown", key="dlq_all", on_click=select_all, args=(pick_key, ids))
    count = len(picked)
    if right.button(
        f"Redrive {count:,} message{'s' if count != 1 else ''}…",
        key="dlq_redrive",
        disabled=not picked,
        type="primary",
    ):
        chosen_letters = shown[shown["message_id"].isin(picked)]
        st.session_state[PENDING_KEY] = {
            "queue": queue,
            "ids": picked,
            "question": delivery.redrive_question(chosen_letters, queue),
        }
    confirm_redrive()


def dead_letters_section() -> None:
    token = ("dlq", version)
    depth = ui.load(delivery.queue_depth, ctx, what="the dead-letter queues", token=token)
    letters = ui.load(delivery.dead_letters, ctx, what="the dead letters", token=token)
    if depth is None or letters is None:
        return
    head, button = st.columns([5, 1], vertical_alignment="bottom")
    head.subheader("Dead-letter queues")
    if button.button("Read again", key="dlq_refresh", icon=":material/refresh:"):
        st.session_state[VERSION_KEY] = version + 1
        st.rerun()
    show_report()
    if letters.empty:
        # Empty says nothing of how: letters may have been redriven, or removed by hand.
        st.success("The dead-letter queues are empty: no failed delivery is waiting to be redriven.")
        return
    ui.table(
        delivery.dlq_summary(letters, depth),
        hide_index=True,
        column_config={
            "queue": "Queue",
            "waiting": st.column_config.NumberColumn("Waiting", format="localized"),
            "ERROR_CODE": "Error code",
            "messages": st.column_config.NumberColumn("Read", help="Among the messages read"),
            "latest": st.column_config.DatetimeColumn("Latest", format="YYYY-MM-DD HH:mm:ss"),
        },
    )
    if sum(depth.values()) > len(letters):
        st.caption(f"The newest {len(letters):,} of {sum(depth.values()):,} messages were read.")
    browse(letters, depth)


def audit_section() -> None:
    st.subheader("Audit trail")
    trail = ui.audit_trail(ctx)
    if trail is None:
        return
    if trail.empty:
        st.caption(f"No sign-in, redrive or replay recorded yet (in {ui.plain(ctx.audit.where)}).")
        return
    where = ui.plain(ctx.audit.where)
    st.caption(f"Sign-ins, redrives and replays, newest first (the newest {len(trail):,}), from {where}.")
    ui.table(
        trail,
        hide_index=True,
        column_config={
            "at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "user": "Who",
            "roles": "Roles",
            "via": "Signed in via",
            "action": "Action",
            "what": "What",
            "count": st.column_config.NumberColumn("How many", format="%d"),
            "outcome": "Outcome",
            "detail": st.column_config.TextColumn("Detail", width="large"),
        },
    )


metrics_section()
dead_letters_section()
if ui.may("audit"):
    audit_section()
