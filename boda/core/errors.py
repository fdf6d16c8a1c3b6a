"""Domain errors with stable codes; the web layer maps them to HTTP once.

Services raise these and never import FastAPI, so the CLI and jobs get the
same errors as the API.
"""

from __future__ import annotations

from typing import Any


class BodaError(Exception):
    """Base error: a stable machine code, a human message and optional details."""

    code = "error"
    status_code = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.key = key  # names the message in the UI catalogue (error.<key>), filled from details


class ConfigError(BodaError):
    """A setting that cannot be used: the process stops with one line that names it (`boda` exits 2)."""

    code = "config_error"
    status_code = 500


class InvalidInput(BodaError):
    code = "invalid_input"
    status_code = 400


class NotFound(BodaError):
    """Also raised for objects the caller may not see, so existence never leaks."""

    code = "not_found"
    status_code = 404


class Unauthorized(BodaError):
    code = "unauthorized"
    status_code = 401


class Forbidden(BodaError):
    code = "forbidden"
    status_code = 403


class Conflict(BodaError):
    code = "conflict"
    status_code = 409


class Gone(BodaError):
    """Existed, but is no longer usable (an expired or used invitation)."""

    code = "gone"
    status_code = 410


class PayloadTooLarge(BodaError):
    code = "payload_too_large"
    status_code = 413


class UnsupportedMedia(BodaError):
    code = "unsupported_media_type"
    status_code = 415


class Unavailable(BodaError):
    """A dependency (model weights, database, queue) is missing or down."""

    code = "unavailable"
    status_code = 503


class RateLimited(BodaError):
    code = "rate_limited"
    status_code = 429
