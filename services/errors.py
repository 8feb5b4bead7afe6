"""Domain errors of the services; web/errors.py maps each to an HTTP answer in one place."""

from __future__ import annotations


class ServiceError(Exception):
    """Something the caller asked for cannot be done; ``message`` says why, for people."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # the offending input, when one field is to blame


class NotFound(ServiceError):
    """Unknown, or not the caller's to see: the same answer for both (no probing)."""

    status = 404


class Forbidden(ServiceError):
    """The caller may see it but not do this."""

    status = 403


class Invalid(ServiceError):
    """The request is well formed but breaks a rule (a weak password, an unknown group)."""

    status = 422


class Refused(ServiceError):
    """A rule of the product refuses the action as asked (your own role, a taken name)."""

    status = 400


class Conflict(ServiceError):
    """The action does not fit the current state (nothing to retry)."""

    status = 409
