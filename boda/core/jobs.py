"""Background jobs: a row per job as the truth, Huey as the carrier.

The queue only carries a job id. The worker loads the row, runs the function
registered for its kind, and writes progress, status and result back to the
row and to the event stream (`core.events`). Because the row is the truth, a
killed worker is noticed by its silent heartbeat and the job is queued again
or failed with a reason (`reap_stale`), and any number of workers on any
number of machines can share one Redis queue.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from boda.core.db import Database, utcnow
from boda.core.errors import Conflict, InvalidInput, Unavailable
from boda.core.events import publish
from boda.core.models import Job, JobStatus

if TYPE_CHECKING:
    from boda.core.runtime import Runtime

log = logging.getLogger(__name__)

JobFunc = Callable[["JobContext", dict[str, Any]], dict[str, Any] | None]


class JobCanceled(Exception):
    """Raised inside a job when its owner asked to cancel it."""


class JobSuperseded(JobCanceled):
    """Raised inside a job whose attempt was given to another worker (it was taken for lost)."""


@dataclass(frozen=True)
class JobSpec:
    kind: str
    func: JobFunc
    max_attempts: int | None


_REGISTRY: dict[str, JobSpec] = {}


def job(kind: str, *, max_attempts: int | None = None) -> Callable[[JobFunc], JobFunc]:
    """Register a function as the body of jobs of this kind."""

    def register(func: JobFunc) -> JobFunc:
        _REGISTRY[kind] = JobSpec(kind=kind, func=func, max_attempts=max_attempts)
        return func

    return register


def registered_kinds() -> list[str]:
    return sorted(_REGISTRY)


class JobContext:
    """What a running job sees: the runtime, and a way to report progress."""

    def __init__(self, runtime: Runtime, job_id: str, owner_id: str | None, attempt: int = 1) -> None:
        self.runtime = runtime
        self.job_id = job_id
        self.owner_id = owner_id
        self.attempt = attempt

    def progress(self, fraction: float, message: str = "") -> None:
        """Record progress (0..1); raises JobCanceled if a cancel was asked for."""
        percent = round(max(0.0, min(1.0, fraction)) * 100, 1)
        with self.runtime.db.session() as session:
            row = session.get(Job, self.job_id)
            if row is None or row.cancel_requested:
                raise JobCanceled()
            if not _owns(row, self.attempt):
                raise JobSuperseded()
            row.progress = percent
            row.message = message
            row.heartbeat_at = utcnow()
            publish(session, self.job_id, "progress", {"progress": percent, "message": message})

    def check_canceled(self) -> None:
        with self.runtime.db.session() as session:
            if session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)):
                raise JobCanceled()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def _owns(row: Job, attempt: int) -> bool:
    """Whether this attempt is still the job's current one (not reaped and run elsewhere)."""
    return row.status == JobStatus.running and row.attempts == attempt


def _finish(session: Session, row: Job, status: JobStatus, **fields: Any) -> None:
    row.status = status
    row.finished_at = utcnow()
    for key, value in fields.items():
        setattr(row, key, value)
    final = {"status": status.value, "progress": row.progress, "message": row.message,
             "result": row.result, "error": row.error}
    publish(session, row.id, "final", final)


class _Heartbeat:
    """Proves, while a job body runs, that its worker is alive."""

    def __init__(self, db: Database, job_id: str, interval: float) -> None:
        self._db, self._job_id, self._interval = db, job_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"heartbeat-{job_id[:8]}")

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._db.session() as session:
                    session.execute(
                        update(Job).where(Job.id == self._job_id, Job.status == JobStatus.running)
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # a missed beat is harmless; the next one retries
                log.exception("heartbeat failed for job %s", self._job_id)


def execute(runtime: Runtime, job_id: str) -> None:
    """Run one attempt of a job; called by the worker for each queue message."""
    db, settings = runtime.db, runtime.settings
    with db.session() as session:
        row = session.get(Job, job_id, with_for_update=True)
        if row is None or JobStatus(row.status).finished or row.status == JobStatus.running:
            return  # a duplicate delivery or a job already taken
        if row.cancel_requested:
            _finish(session, row, JobStatus.canceled, message="Canceled before it started")
            return
        spec = _REGISTRY.get(row.kind)
        if spec is None:
            _finish(session, row, JobStatus.failed, error=f"Unknown job kind {row.kind!r}")
            return
        row.status = JobStatus.running
        row.attempts += 1
        row.started_at = row.started_at or utcnow()
        row.heartbeat_at = utcnow()
        row.worker = worker_name()
        payload, owner_id, attempt = dict(row.payload), row.owner_id, row.attempts
        publish(session, job_id, "status", {"status": "running", "attempt": attempt})

    context = JobContext(runtime, job_id, owner_id, attempt)
    try:
        with _Heartbeat(db, job_id, settings.jobs.heartbeat_seconds):
            result = spec.func(context, payload)
    except JobSuperseded:
        log.warning("job %s attempt %d was taken for lost and run again elsewhere; stopping", job_id, attempt)
        return
    except JobCanceled:
        with db.session() as session:
            row = session.get(Job, job_id, with_for_update=True)
            if row is not None and _owns(row, attempt):
                _finish(session, row, JobStatus.canceled, message="Canceled")
        return
    except Exception as exc:
        log.warning("job %s (%s) attempt %d failed: %s", job_id, spec.kind, attempt, exc)
        _after_failure(runtime, job_id, attempt, exc)
        return
    with db.session() as session:
        row = session.get(Job, job_id, with_for_update=True)
        if row is not None and _owns(row, attempt):
            row.progress = 100.0
            _finish(session, row, JobStatus.succeeded, result=result or {}, message=row.message or "Done")


def _error_text(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message}" if not hasattr(exc, "code") else str(message)


def _after_failure(runtime: Runtime, job_id: str, attempt: int, exc: BaseException) -> None:
    """Retry with exponential backoff while attempts remain, else fail for good."""
    retry_in: float | None = None
    with runtime.db.session() as session:
        row = session.get(Job, job_id, with_for_update=True)
        if row is None or not _owns(row, attempt):
            return
        # Bad input will not get better by retrying.
        retryable = not isinstance(exc, InvalidInput)
        if retryable and row.attempts < row.max_attempts and not row.cancel_requested:
            retry_in = runtime.settings.jobs.retry_delay * 2 ** (row.attempts - 1)
            row.status = JobStatus.queued
            row.heartbeat_at = utcnow() + timedelta(seconds=retry_in)  # when it is due again
            row.message = f"Attempt {row.attempts} failed ({_error_text(exc)}); retrying in {retry_in:g} s"
            publish(session, job_id, "status", {"status": "queued", "message": row.message})
        else:
            log.debug("job %s failed:\n%s", job_id, "".join(traceback.format_exception(exc)))
            _finish(session, row, JobStatus.failed, error=_error_text(exc))
    if retry_in is not None:
        runtime.queue.send(job_id, delay=retry_in)


def reap_stale(runtime: Runtime) -> int:
    """Requeue or fail running jobs whose worker stopped beating; returns how many."""
    limit = utcnow() - timedelta(seconds=runtime.settings.jobs.stale_after_seconds)
    requeue: list[str] = []
    with runtime.db.session() as session:
        stale = session.scalars(
            select(Job).where(Job.status == JobStatus.running, Job.heartbeat_at < limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in stale:
            lost = f"The worker ({row.worker}) stopped during attempt {row.attempts}"
            if row.attempts < row.max_attempts and not row.cancel_requested:
                row.status = JobStatus.queued
                row.heartbeat_at = utcnow()
                row.message = f"{lost}; queued again"
                publish(session, row.id, "status", {"status": "queued", "message": row.message})
                requeue.append(row.id)
            else:
                _finish(session, row, JobStatus.failed, error=f"{lost}; no attempts left")
        # A queue message lost on the way (a worker killed between taking and starting it,
        # a queue restarted empty) leaves a job queued for ever: send such jobs again.
        # Duplicates are harmless: `execute` skips a job that is running or finished.
        lost_limit = utcnow() - timedelta(seconds=max(5 * runtime.settings.jobs.stale_after_seconds, 300))
        waiting = session.scalars(
            select(Job).where(Job.status == JobStatus.queued, Job.cancel_requested.is_(False),
                              Job.heartbeat_at < lost_limit).with_for_update(skip_locked=True)
        ).all()
        for row in waiting:
            row.heartbeat_at = utcnow()
            requeue.append(row.id)
    for job_id in requeue:
        runtime.queue.send(job_id)
    return len(stale) + len(waiting)


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A consumer that runs beside a web server: the server owns the signals."""

    def _set_signal_handlers(self) -> None:
        pass


def _make_huey(url: str, *, immediate: bool) -> Huey:
    if url.startswith("redis"):
        return RedisHuey("boda", url=url, immediate=immediate, results=False)
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return SqliteHuey("boda", filename=path, immediate=immediate, results=False)
    raise InvalidInput(f"Unsupported jobs URL {url!r}: use sqlite:///path or redis://host")


class JobQueue:
    """Huey built from settings, carrying job ids to `execute`."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.huey = _make_huey(settings.jobs_url, immediate=settings.jobs.immediate)
        self._consumer: Consumer | None = None

        @self.huey.task(name="boda.run_job")
        def run_job(job_id: str) -> None:
            execute(runtime, job_id)

        @self.huey.periodic_task(crontab(minute="*"), name="boda.reap_stale")
        def reap() -> None:
            reap_stale(runtime)

        @self.huey.periodic_task(crontab(minute="*/10"), name="boda.sweep_blobs")
        def sweep() -> None:
            from boda.core.uploads import sweep_orphans

            sweep_orphans(runtime.db, runtime.store, grace_seconds=settings.storage.orphan_grace_seconds)

        self._run_job = run_job

    def send(self, job_id: str, *, delay: float | None = None) -> None:
        if delay:
            self._run_job.schedule((job_id,), delay=delay)
        else:
            self._run_job(job_id)

    def enqueue(
        self,
        session: Session,
        *,
        kind: str,
        owner_id: str | None,
        payload: dict[str, Any],
        title: str = "",
    ) -> Job:
        """Create the job row, commit it, then hand its id to the queue."""
        if kind not in _REGISTRY:
            raise InvalidInput(f"Unknown job kind {kind!r}")
        spec = _REGISTRY[kind]
        attempts = spec.max_attempts or self.runtime.settings.jobs.retries + 1
        row = Job(kind=kind, owner_id=owner_id, payload=payload, title=title, max_attempts=attempts,
                  heartbeat_at=utcnow())
        session.add(row)
        session.flush()
        publish(session, row.id, "status", {"status": "queued"})
        session.commit()
        try:
            self.send(row.id)
        except Exception as exc:  # the row is committed: say why it will not run
            log.exception("could not queue job %s", row.id)
            _finish(session, row, JobStatus.failed, error=f"The job queue is unavailable: {exc}")
            session.commit()
            raise Unavailable("The job queue is unavailable; try again later") from exc
        session.refresh(row)
        return row

    def cancel(self, session: Session, row: Job) -> Job:
        if JobStatus(row.status).finished:
            raise Conflict(f"The job has already {row.status}")
        row.cancel_requested = True
        if row.status == JobStatus.queued:
            # Not started: cancel now; the worker skips it when it comes.
            row.message = "Canceled"
            _finish(session, row, JobStatus.canceled)
        session.commit()
        return row

    # The consumer: inside `boda serve` by default, or alone in `boda worker`.
    def start_consumer(self, *, workers: int) -> None:
        reap_stale(self.runtime)
        self._consumer = _EmbeddedConsumer(self.huey, workers=workers, worker_type="thread",
                                           periodic=True, max_delay=1.0, check_worker_health=True)
        self._consumer.start()

    def stop_consumer(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None

    def run_consumer_forever(self, *, workers: int) -> None:
        """`boda worker`: a foreground consumer that handles SIGINT/SIGTERM itself."""
        reap_stale(self.runtime)
        consumer = Consumer(self.huey, workers=workers, worker_type="thread",
                            periodic=True, max_delay=1.0)
        consumer.run()


def get_job(session: Session, job_id: str, *, user_id: str, is_admin: bool = False) -> Job:
    """A job its owner (or an admin) may see; 404 for everyone else."""
    from boda.core.errors import NotFound

    row = session.get(Job, job_id)
    if row is None or (row.owner_id != user_id and not is_admin):
        raise NotFound(f"No job with id {job_id}")
    return row


def list_jobs(session: Session, *, user_id: str, status: list[JobStatus] | None = None,
              limit: int = 50, offset: int = 0) -> tuple[list[Job], int]:
    from sqlalchemy import func

    query = select(Job).where(Job.owner_id == user_id)
    if status:
        query = query.where(Job.status.in_(status))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total
