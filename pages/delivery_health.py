"""Delivery health: did each rule deliver what it matched, and what was dead-lettered."""

import plotly.express as px
import streamlit as st

from app import ui
from app.services import delivery

view = ui.view()
ui.page_header("Delivery health", "Per rule: matched events, invocations and failures (CloudWatch's AWS/Events "
               "metrics), and the dead-letter queues", view.range)

health = ui.load(delivery.delivery_health, view.ctx, view.range, what="the bus metrics")
if health is not None and health.is_empty:
    ui.empty_state("No bus metrics or dead letters in this range — seed the lake with `make run` "
                   "or widen the range.")
elif health is not None:
    rules = health.rules
    worst = rules.iloc[0] if not rules.empty else None
    waiting = sum(health.queue_depth.values())
    ui.kpi_row([
        ui.Figure("Matched events", f"{rules['matched'].sum():,.0f}"),
        ui.Figure("Invocations", f"{rules['invocations'].sum():,.0f}"),
        ui.Figure("Failed invocations", f"{rules['failed'].sum():,.0f}", inverse=True,
                  caption=f"worst: {worst['rule']}" if worst is not None and worst["failed"] > 0 else None),
        ui.Figure("Dead letters waiting", f"{waiting:,}", inverse=True,
                  caption=", ".join(f"{q}: {n:,}" for q, n in health.queue_depth.items() if n) or "every queue is empty"),
    ])

    st.subheader("Rules, worst first")
    st.dataframe(rules, hide_index=True, column_order=[c for c in rules.columns
                                                       if c != "latency_ms" or health.has_latency], column_config={
        "rule": "Rule",
        "matched": st.column_config.NumberColumn("Matched", format="%d"),
        "invocations": st.column_config.NumberColumn("Invocations", format="%d"),
        "failed": st.column_config.NumberColumn("Failed", format="%d"),
        "failure_rate": st.column_config.NumberColumn("Failure rate", format="percent"),
        "retries": st.column_config.NumberColumn("Retries", format="%d"),
        "sent_to_dlq": st.column_config.NumberColumn("Sent to DLQ", format="%d"),
        "throttled": st.column_config.NumberColumn("Throttled", format="%d"),
        "latency_ms": st.column_config.NumberColumn("Mean latency (ms)", format="%.0f",
                                                    help="IngestionToInvocationStartLatency"),
    })

    names = rules["rule"].tolist()
    failing = rules.loc[rules["failed"] > 0, "rule"].tolist()
    chosen = st.multiselect("Rules to chart", names, default=failing[:3] or names[:3], key="delivery_rules")
    series = health.series[health.series["rule"].isin(chosen)]
    if not health.has_latency:
        series = series[~series["metric"].isin(delivery.LATENCIES)]
    if series.empty:
        st.info("Pick one or more rules to chart.")
    else:
        shown = [m for m in delivery.CHART_METRICS if m in set(series["metric"])]
        figure = px.line(series, x="timestamp", y="value", color="rule", facet_col="metric", facet_col_wrap=2,
                         facet_row_spacing=0.08, category_orders={"metric": shown},
                         labels={"timestamp": "", "value": ""})
        figure.update_yaxes(matches=None, showticklabels=True, rangemode="tozero")
        figure.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
        ui.chart(figure, height=160 * ((series["metric"].nunique() + 1) // 2) + 80)

    st.subheader("Dead-letter queues")
    if health.dead_letters.empty:
        st.success("The dead-letter queues are empty: every failed delivery was retried successfully.")
    else:
        st.dataframe(delivery.dlq_summary(health.dead_letters, health.queue_depth), hide_index=True,
                     column_config={
                         "queue": "Queue", "waiting": "Waiting", "ERROR_CODE": "Error code",
                         "messages": st.column_config.NumberColumn("Read", help="Among the newest messages read"),
                         "latest": st.column_config.DatetimeColumn("Latest", format="YYYY-MM-DD HH:mm:ss")})
        if waiting > len(health.dead_letters):
            st.caption(f"The newest {len(health.dead_letters):,} of {waiting:,} messages:")
        st.dataframe(health.dead_letters, hide_index=True, column_order=[
            "sent_at", "queue", "rule", "detail_type", "ERROR_CODE", "ERROR_MESSAGE", "RETRY_ATTEMPTS",
            "EXHAUSTED_RETRY_CONDITION", "event_id", "source", "detail", "RULE_ARN", "TARGET_ARN", "message_id"],
            column_config={"sent_at": st.column_config.DatetimeColumn("Sent", format="YYYY-MM-DD HH:mm:ss"),
                           "queue": "Queue", "rule": "Rule", "detail_type": "Detail type", "event_id": "Event id",
                           "source": "Source", "detail": "Detail", "message_id": "Message id"})
