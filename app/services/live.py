"""When a page refreshes itself ("Live"), and how often: a policy per backend.

Local reads cost nothing, so Live refreshes every 15 s and starts on for ranges up to a
day. On AWS every refresh is billed (GetMetricData per metric, Athena per query) and
CloudWatch's AWS/Events metrics have one-minute resolution, so a refresh more often than
every 60 s reads the same points again; Live is offered only for ranges up to an hour,
where a minute's new points change what the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

LOCAL_EVERY_S = 15  # seconds between refreshes of a live page, local backend
LOCAL_UP_TO = timedelta(hours=24)  # ranges this short start live
AWS_EVERY_S = 60  # CloudWatch's resolution: a period of 60 s is the finest for AWS/Events
AWS_UP_TO = timedelta(hours=1)  # longer ranges are not live on AWS
AWS_NOT_LIVE = (
    "Live is off on AWS for ranges over an hour: each refresh is billed by CloudWatch and "
    "Athena, and a minute's new points barely move a longer range."
)


@dataclass(frozen=True)
class LivePolicy:
    every_s: int  # seconds between refreshes while live
    offered: bool  # the switch can be turned on
    default: bool  # on when the page opens
    note: str = ""  # one sentence when it is not offered


def live_policy(backend: str, duration: timedelta) -> LivePolicy:
    """Live for a range of ``duration`` on ``backend`` ("local" | "aws")."""
    if backend == "aws":
        if duration > AWS_UP_TO:
            return LivePolicy(AWS_EVERY_S, offered=False, default=False, note=AWS_NOT_LIVE)
        return LivePolicy(AWS_EVERY_S, offered=True, default=True)
    return LivePolicy(LOCAL_EVERY_S, offered=True, default=duration <= LOCAL_UP_TO)


def refreshes_per_hour(backend: str, duration: timedelta) -> int:
    """How many times an open live page reads its figures in an hour (0: never live)."""
    policy = live_policy(backend, duration)
    return 3600 // policy.every_s if policy.offered else 0
