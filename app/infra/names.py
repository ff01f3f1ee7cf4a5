"""Names the template gives things, shared by the renderer and the code that reads outputs."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9]+")


def logical_id(*parts: str) -> str:
    """A CloudFormation logical id (alphanumeric) from names such as ``crm-webhook-dlq``."""
    words = [w for part in parts for w in _WORD.findall(part)]
    return "".join(w[:1].upper() + w[1:] for w in words)
