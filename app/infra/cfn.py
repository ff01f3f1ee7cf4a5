"""CloudFormation's building blocks for the renderer: intrinsic functions, IAM policy
documents, and the error a definition that cannot become a template raises."""

from __future__ import annotations

from typing import Any

Template = dict[str, Any]


class RenderError(ValueError):
    """The definition cannot be expressed as a template; the message says why."""


# --- intrinsic functions ---------------------------------------------------------------


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def get_att(resource: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, attribute]}


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def if_(condition: str, then: Any, otherwise: Any) -> dict[str, Any]:
    return {"Fn::If": [condition, then, otherwise]}


NO_VALUE = ref("AWS::NoValue")
ARN = "arn:${AWS::Partition}"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: list[str], resources: Any, sid: str = "", **extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}
    return {"Sid": sid, **statement} if sid else statement
