"""A job that proves the queue works end to end (`boda jobs selftest`)."""

from __future__ import annotations

import time
from typing import Any

from boda.core.jobs import JobContext, job, worker_name


@job("core.selftest")
def selftest(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Wait `seconds` in `steps` steps, reporting progress at each, and say which worker ran it."""
    steps = max(1, int(payload.get("steps", 5)))
    seconds = float(payload.get("seconds", 1.0))
    for step in range(steps):
        ctx.progress(step / steps, f"step {step + 1} of {steps}")
        time.sleep(seconds / steps)
    return {"steps": steps, "worker": worker_name()}
