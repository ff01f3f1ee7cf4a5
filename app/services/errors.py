"""The error services raise when they cannot answer."""


class ServiceError(Exception):
    """A service cannot answer; the message is one sentence that says what to do."""
