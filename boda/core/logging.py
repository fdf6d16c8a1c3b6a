"""Logging for every Boda process, configured once: level, format, quiet libraries, job ids.

`configure(settings)` is called by `boda serve`, `boda worker` and the other
commands. While a job runs (`boda.core.jobs.execute`), every record made in its
thread carries `job_id`, whoever logs it: Boda, a library, or Huey (whose own
lines name only its internal task id).
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boda.core.config import Settings

job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("boda_job_id", default=None)

# Libraries that log every request (Azure's SDK, with all its headers: 2.7 MB for 300 photos)
# or every task: held at WARNING unless log_level is DEBUG.
NOISY = ("azure", "azure.core.pipeline.policies.http_logging_policy", "huey", "urllib3", "httpx", "httpcore",
         "botocore", "s3fs", "aiobotocore", "fsspec", "PIL", "multipart", "python_multipart",
         "alembic.runtime.plugins")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(job)s: %(message)s"


class JobIdFilter(logging.Filter):
    """Adds `job_id` to every record: the running job's, or the one a Huey task carries, else None."""

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = getattr(record, "job_id", None) or job_id_var.get() or _huey_job_id(record)
        record.job_id = job_id
        record.job = f" [job {job_id}]" if job_id else ""
        return True


def _huey_job_id(record: logging.LogRecord) -> str | None:
    # Huey's "Executing %s" / "%s executed in %0.3fs" pass the task itself: ours carries the job id.
    if not record.name.startswith("huey") or not isinstance(record.args, tuple):
        return None
    for arg in record.args:
        if getattr(arg, "name", None) == "boda.run_job" and getattr(arg, "args", None):
            return str(arg.args[0])
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, job_id, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "job_id": getattr(record, "job_id", None),
            "exc": None,
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["exc"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _BodaHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler `configure` installed, so a second call replaces it instead of adding one."""


def configure(settings: Settings, *, level: str | None = None, stream: IO[str] | None = None) -> logging.Handler:
    """Send log records to stderr (or `stream`) in the configured format; returns the handler."""
    name = level or settings.log_level
    handler = _BodaHandler(stream or sys.stderr)
    handler.addFilter(JobIdFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _BodaHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(name)
    quiet = None if name == "DEBUG" else logging.WARNING
    for logger in NOISY:
        logging.getLogger(logger).setLevel(quiet or logging.NOTSET)
    return handler


def tagged_with_job(func: Callable[[Any, str], None]) -> Callable[[Any, str], None]:
    """Decorates `execute(runtime, job_id)`: everything logged while it runs names the job."""

    @functools.wraps(func)
    def run(runtime: Any, job_id: str) -> None:
        token = job_id_var.set(job_id)
        try:
            func(runtime, job_id)
        finally:
            job_id_var.reset(token)

    return run
