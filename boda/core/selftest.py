"""A job that proves the queue works end to end (`boda jobs selftest`)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from boda.core.jobs import JobContext, JobDef, Queue, job, worker_name


class Selftest(BaseModel):
    seconds: float = Field(default=1.0, ge=0, le=3600)
    steps: int = Field(default=5, ge=1, le=10_000)


def _selftest(ctx: JobContext, payload: Selftest) -> dict[str, Any]:
    """Wait `seconds` in `steps` steps, reporting progress at each, and say which worker ran it."""
    steps, seconds = payload.steps, payload.seconds
    # Steps are only waits: a retry (its worker was killed) goes on from the step reached.
    for step in range(min(int(ctx.resumed_from * steps), steps - 1), steps):
        ctx.progress(step / steps, f"step {step + 1} of {steps}")
        time.sleep(seconds / steps)
    return {"steps": steps, "worker": worker_name()}


selftest = job("core.selftest", payload=Selftest)(_selftest)
selftest_heavy = job("core.selftest_heavy", payload=Selftest, queue=Queue.heavy)(_selftest)


def for_queue(queue: Queue) -> JobDef[Selftest]:
    """The selftest that waits in this queue (so `boda jobs selftest` reaches the heavy workers too)."""
    return selftest_heavy if queue == Queue.heavy else selftest
