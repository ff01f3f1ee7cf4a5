"""Production lines: one per product line, three 8-hour shifts a day, each a batch.

Every morning each line publishes the day's planned capacity; each shift starts a batch of
a third of it, machine stops (MachineDowntime) cost the batch the share of the shift they
last, and some units are scrapped. Capacity is planned around the line's mean demand, so
the seasonal peak and sales days outrun it.
"""

from __future__ import annotations

import numpy as np

from app.demo.orders import LINE_NAMES
from app.demo.rows import DAY, HOUR, MINUTE, Rows, format_dates, make_rows
from app.demo.world import PRODUCT_LINES

SHIFT_START_HOURS = (6, 14, 22)
SHIFT_SECONDS = 8 * HOUR
DOWNTIME_P = 0.12  # per batch
DOWNTIME_MINUTES = (50, 0.8, 5, 360)  # median, log sigma, shortest, longest
DOWNTIME_REASONS = (
    "mechanical_failure",
    "electrical_fault",
    "material_shortage",
    "changeover_overrun",
    "operator_unavailable",
)
MACHINES_PER_LINE = 4
LINE_IDS = np.array([p.line_id for p in PRODUCT_LINES], dtype=object)
SCRAP_RATES = np.array([p.scrap_rate for p in PRODUCT_LINES])


def line_arns(region: str, account: str) -> np.ndarray:
    """Each line's machine as an AWS IoT thing: the events' ``resources``."""
    return np.array([f"arn:aws:iot:{region}:{account}:thing/{line_id}" for line_id in LINE_IDS], dtype=object)


def _batch_ids(day: int, line: np.ndarray, shift: np.ndarray) -> np.ndarray:
    stamp = np.datetime_as_string(np.datetime64(day, "D")).replace("-", "")
    codes = [PRODUCT_LINES[i].code for i in line.tolist()]
    return np.array(
        [f"BAT-{c}-{stamp}-{s + 1}" for c, s in zip(codes, shift.tolist(), strict=True)], dtype=object
    )


def simulate_production(
    rng: np.random.Generator, day: int, capacity: np.ndarray, arns: np.ndarray
) -> list[Rows]:
    """The day's events of every line; ``capacity``: units each line can make that day."""
    lines = np.arange(len(PRODUCT_LINES))
    planned_rows = make_rows(
        rng,
        "CapacityPlanned",
        day * DAY + 5 * MINUTE + lines * 20,
        {
            "line_id": LINE_IDS,
            "product_line": LINE_NAMES,
            "plan_date": format_dates(np.full(len(lines), day)),
            "capacity_units": capacity.astype(np.int64),
        },
        arns,
    )
    line = np.repeat(lines, len(SHIFT_START_HOURS))
    shift = np.tile(np.arange(len(SHIFT_START_HOURS)), len(lines))
    started_at = day * DAY + np.array(SHIFT_START_HOURS)[shift] * HOUR
    planned = capacity[line] // 3 + np.where(shift == 0, capacity[line] % 3, 0)
    batch = {
        "line_id": LINE_IDS[line],
        "product_line": LINE_NAMES[line],
        "batch_id": _batch_ids(day, line, shift),
    }
    rows = [
        planned_rows,
        make_rows(rng, "BatchStarted", started_at, {**batch, "planned_units": planned}, arns[line]),
    ]
    lost, downtime = _downtime(rng, started_at, planned, batch, arns[line])
    scrap = rng.binomial(planned - lost, SCRAP_RATES[line])
    rows.append(downtime)
    rows.append(
        make_rows(
            rng,
            "BatchCompleted",
            started_at + SHIFT_SECONDS,
            {**batch, "units": planned - lost - scrap, "scrap_units": scrap.astype(np.int64)},
            arns[line],
        )
    )
    return rows


def _downtime(
    rng: np.random.Generator, started_at: np.ndarray, planned: np.ndarray, batch: dict, arns: np.ndarray
) -> tuple[np.ndarray, Rows]:
    """Machine stops: the units each batch loses, and the MachineDowntime events."""
    median, sigma, shortest, longest = DOWNTIME_MINUTES
    stopped = np.flatnonzero(rng.random(len(planned)) < DOWNTIME_P)
    minutes = np.clip(np.round(rng.lognormal(np.log(median), sigma, len(stopped))), shortest, longest)
    lost = np.zeros(len(planned), dtype=np.int64)
    lost[stopped] = np.ceil(planned[stopped] * minutes * MINUTE / SHIFT_SECONDS).astype(
        np.int64
    )  # a stop costs a unit at least
    latest_start = SHIFT_SECONDS - minutes * MINUTE - 10 * MINUTE
    at = (
        started_at[stopped]
        + 10 * MINUTE
        + (rng.random(len(stopped)) * (latest_start - 10 * MINUTE)).astype(np.int64)
    )
    machine = rng.integers(1, MACHINES_PER_LINE + 1, len(stopped))
    rows = make_rows(
        rng,
        "MachineDowntime",
        at,
        {
            **{key: values[stopped] for key, values in batch.items()},
            "machine_id": np.array(
                [
                    f"{b[4:7]}-M{m}"
                    for b, m in zip(batch["batch_id"][stopped].tolist(), machine.tolist(), strict=True)
                ],
                dtype=object,
            ),
            "minutes": minutes,
            "reason": np.array(DOWNTIME_REASONS, dtype=object)[
                rng.integers(0, len(DOWNTIME_REASONS), len(stopped))
            ],
        },
        arns[stopped],
    )
    return lost, rows
