"""The one error a pattern can raise, worded as EventBridge words it."""

from __future__ import annotations


class InvalidEventPatternException(Exception):
    """Raised by compile_pattern for a pattern EventBridge would refuse."""

    code = "InvalidEventPatternException"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def invalid(reason: str) -> InvalidEventPatternException:
    """The error to raise for ``reason``: EventBridge words its PutRule/TestEventPattern errors this way."""
    return InvalidEventPatternException(f"Event pattern is not valid. Reason: {reason}")


def at(path: str) -> str:
    """Where in the pattern a reason applies, as event-ruler appends it."""
    return f' at "{path}"' if path else ""
