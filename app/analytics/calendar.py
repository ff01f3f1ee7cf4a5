"""The US retail calendar: the public holidays and sale days that move a furniture shop's
demand. Only the dates are known here; what each day does to demand is estimated by the
forecasting models from the history (a day that never occurred in the history is left out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.holiday import MO, TH, Holiday
from pandas.tseries.offsets import Day

THANKSGIVING = Holiday("Thanksgiving", month=11, day=1, offset=pd.DateOffset(weekday=TH(4)))
RETAIL_DAYS = (
    Holiday("New Year's Day", month=1, day=1),
    Holiday("Presidents' Day", month=2, day=1, offset=pd.DateOffset(weekday=MO(3))),
    Holiday("Memorial Day", month=5, day=31, offset=pd.DateOffset(weekday=MO(-1))),
    Holiday("Independence Day", month=7, day=4),
    Holiday("Labor Day", month=9, day=1, offset=pd.DateOffset(weekday=MO(1))),
    THANKSGIVING,
    Holiday("Black Friday", month=11, day=1, offset=[pd.DateOffset(weekday=TH(4)), Day(1)]),
    Holiday("Cyber Monday", month=11, day=1, offset=[pd.DateOffset(weekday=TH(4)), Day(4)]),
    Holiday("Christmas Eve", month=12, day=24),
    Holiday("Christmas Day", month=12, day=25),
    Holiday("Boxing Day", month=12, day=26),
    Holiday("New Year's Eve", month=12, day=31),
)


def retail_days(first, last) -> pd.DataFrame:
    """date, name of every retail calendar day between ``first`` and ``last`` (inclusive)."""
    rows = [
        (day, rule.name)
        for rule in RETAIL_DAYS
        for day in rule.dates(pd.Timestamp(first), pd.Timestamp(last))
    ]
    return pd.DataFrame(rows, columns=["date", "name"]).sort_values("date", ignore_index=True)


def holiday_regressors(dates: pd.DatetimeIndex, seen: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """One 0/1 column per retail day, indexed by ``dates``; only the days that occur within
    ``seen`` (the history a model learns from) get a column, since the others cannot be
    estimated."""
    seen = dates if seen is None else seen
    known = set(retail_days(seen.min(), seen.max())["name"])
    days = retail_days(dates.min(), dates.max())
    frame = pd.DataFrame(index=dates)
    for name in [rule.name for rule in RETAIL_DAYS if rule.name in known]:
        frame[name] = np.isin(dates, days.loc[days["name"] == name, "date"]).astype(float)
    return frame
