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
import random
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer
from pydantic import BaseModel, ValidationError
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from boda.core.db import Database, utcnow
from boda.core.errors import Conflict, InvalidInput, Unavailable
from boda.core.events import publish
from boda.core.logging import tagged_with_job
from boda.core.models import Job, JobStatus, Schedule

if TYPE_CHECKING:
    from boda.core.runtime import Runtime

log = logging.getLogger(__name__)

PayloadT = TypeVar("PayloadT", bound=BaseModel)


class Queue(StrEnum):
    """Short work and heavy work (models on CPU/GPU) wait in separate lines, so neither starves the other."""

    default = "default"
    heavy = "heavy"


class JobCanceled(Exception):
    """Raised inside a job when its owner asked to cancel it."""


class JobSuperseded(JobCanceled):
    """Raised inside a job whose attempt was given to another worker (it was taken for lost)."""


class JobWaiting(Exception):  # noqa: N818 - a signal, not an error
    """Raised by `JobContext.wait`: the job gives its worker thread back and runs again in `delay` s.

    A job that waits on a remote task (a 3D generation, minutes long) polls in short steps
    instead of holding a thread while it sleeps: 100 of them cost no thread at all between
    steps, and the next step, carried by the queue, survives a restart.
    """

    def __init__(self, delay: float) -> None:
        super().__init__(f"waiting {delay:g} s")
        self.delay = delay


@dataclass(frozen=True)
class JobDef(Generic[PayloadT]):
    """A kind of job: its body, the schema of its payload, and the queue it waits in.

    Enqueue by reference (`runtime.queue.enqueue(session, anonymize_batch, payload=...)`):
    the payload is validated before anything is stored, and a worker gets it back typed.
    """

    kind: str
    func: Callable[[JobContext, PayloadT], dict[str, Any] | None]
    payload: type[PayloadT]
    queue: Queue = Queue.default
    max_attempts: int | None = None

    def __call__(self, ctx: JobContext, payload: PayloadT) -> dict[str, Any] | None:
        return self.func(ctx, payload)


_REGISTRY: dict[str, JobDef[Any]] = {}


def job(kind: str, *, payload: type[PayloadT], queue: Queue = Queue.default, max_attempts: int | None = None
        ) -> Callable[[Callable[[JobContext, PayloadT], dict[str, Any] | None]], JobDef[PayloadT]]:
    """Register a function as the body of jobs of this kind."""

    def register(func: Callable[[JobContext, PayloadT], dict[str, Any] | None]) -> JobDef[PayloadT]:
        definition = JobDef(kind=kind, func=func, payload=payload, queue=queue, max_attempts=max_attempts)
        _REGISTRY[kind] = definition
        return definition

    return register


def registered_kinds() -> list[str]:
    return sorted(_REGISTRY)


def queue_of(kind: str) -> Queue:
    definition = _REGISTRY.get(kind)
    return definition.queue if definition else Queue.default


class JobContext:
    """What a running job sees: the runtime, and a way to report progress."""

    def __init__(self, runtime: Runtime, job_id: str, owner_id: str | None, attempt: int = 1,
                 resumed_from: float = 0.0) -> None:
        self.runtime = runtime
        self.job_id = job_id
        self.owner_id = owner_id
        self.attempt = attempt
        # The progress (0..1) an earlier attempt reached: a job that can pick up where it was
        # (finished items are kept) reports from there, so a retry does not jump back to 0 %.
        self.resumed_from = resumed_from
        self._last_write = float("-inf")

    def progress(self, fraction: float, message: str = "", *, key: str | None = None,
                 args: dict[str, Any] | None = None) -> None:
        """Record progress (0..1); raises JobCanceled if a cancel was asked for.

        `message` is English; `key` and `args` name the same text in the catalogue, so
        each viewer reads it in their language.

        Writes are throttled (`jobs.progress_interval`): a loop over 10,000 small items
        costs a few dozen writes, not 10,000. The last step (1.0) is always written.
        """
        now = time.monotonic()
        if fraction < 1.0 and now - self._last_write < self.runtime.settings.jobs.progress_interval:
            return
        self._last_write = now
        percent = round(max(0.0, min(1.0, fraction)) * 100, 1)
        with self.runtime.db.session() as session:
            row = session.get(Job, self.job_id)
            if row is None or row.cancel_requested:
                raise JobCanceled()
            if not _owns(row, self.attempt):
                raise JobSuperseded()
            row.progress = percent
            row.message, row.message_key, row.message_args = message, key, args
            row.heartbeat_at = utcnow()
            publish(session, self.job_id, "progress", {"progress": percent, "message": message,
                                                       "message_key": key, "message_args": args})

    def wait(self, seconds: float) -> NoReturn:
        """End this step; the job runs again after `seconds` (same attempt count, progress kept).

        Whatever the next step needs must already be stored (a provider's task id, say).
        """
        raise JobWaiting(max(0.0, seconds))

    def check_canceled(self) -> None:
        with self.runtime.db.session() as session:
            if session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)):
                raise JobCanceled()


def _tell(row: Job, message: str, key: str, args: dict[str, Any]) -> dict[str, Any]:
    """Set the row's message (English, and a catalogue key for the viewer's language); the event's fields."""
    row.message, row.message_key, row.message_args = message, key, args
    return {"message": message, "message_key": key, "message_args": args}


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
             "message_key": row.message_key, "message_args": row.message_args,
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


@tagged_with_job
def execute(runtime: Runtime, job_id: str) -> None:
    """Run one attempt of a job; called by the worker for each queue message.

    A job that waits (`JobContext.wait`) is sent again with a delay; in immediate mode (tests,
    one-shot CLI runs) there is no consumer to deliver it later, so it runs again here.
    """
    while (delay := _execute_step(runtime, job_id)) is not None:
        if not runtime.settings.jobs.immediate:
            runtime.queue.send(job_id, queue_of(_kind_of(runtime, job_id)), delay=delay or None)
            return
        time.sleep(delay)


def _kind_of(runtime: Runtime, job_id: str) -> str:
    with runtime.db.session() as session:
        return session.scalar(select(Job.kind).where(Job.id == job_id)) or ""


def _execute_step(runtime: Runtime, job_id: str) -> float | None:
    """One run of a job's body; returns the delay before the next run when the job waits, else None."""
    db, settings = runtime.db, runtime.settings
    with db.session() as session:
        row = session.get(Job, job_id, with_for_update=True)
        if row is None or JobStatus(row.status).finished or row.status == JobStatus.running:
            return None  # a duplicate delivery or a job already taken
        if row.cancel_requested:
            _finish(session, row, JobStatus.canceled, message="Canceled before it started",
                    message_key="job.canceled_before_start", message_args=None)
            return None
        spec = _REGISTRY.get(row.kind)
        if spec is None:
            _finish(session, row, JobStatus.failed, error=f"Unknown job kind {row.kind!r}")
            return None
        try:
            payload = spec.payload.model_validate(row.payload)
        except ValidationError as exc:
            _finish(session, row, JobStatus.failed, error=f"Invalid payload for {row.kind}: {exc}")
            return None
        previous, me = row.worker, worker_name()
        row.status = JobStatus.running
        row.attempts += 1
        row.started_at = row.started_at or utcnow()
        row.heartbeat_at = utcnow()
        row.worker = me
        owner_id, attempt = row.owner_id, row.attempts
        news: dict[str, Any] = {"status": "running", "attempt": attempt}
        if attempt > 1:
            # The row keeps the progress the last attempt reached until this one reports.
            lost = _LOST in (row.message or "")
            if lost:
                told = _tell(row, f"The worker {previous} stopped; resumed on {me}", "job.resumed",
                             {"previous": previous, "worker": me})
            else:
                told = _tell(row, f"Attempt {attempt} on {me}", "job.attempt", {"attempt": attempt, "worker": me})
            news |= {**told, "progress": row.progress}
            log.log(logging.WARNING if lost else logging.INFO, "job %s (%s): %s (attempt %d, from %.0f %%)",
                    job_id, row.kind, row.message, attempt, row.progress)
        publish(session, job_id, "status", news)
        resumed_from = (row.progress or 0.0) / 100 if attempt > 1 else 0.0

    context = JobContext(runtime, job_id, owner_id, attempt, resumed_from)
    try:
        with _Heartbeat(db, job_id, settings.jobs.heartbeat_seconds):
            result = spec.func(context, payload)
    except JobSuperseded:
        log.warning("job %s attempt %d was taken for lost and run again elsewhere; stopping", job_id, attempt)
        return None
    except JobWaiting as waiting:
        with db.session() as session:
            row = session.get(Job, job_id, with_for_update=True)
            if row is None or not _owns(row, attempt):
                return None
            if row.cancel_requested:
                _finish(session, row, JobStatus.canceled, message="Canceled", message_key="job.canceled",
                        message_args=None)
                return None
            row.status = JobStatus.queued
            row.attempts -= 1  # waiting is not failing: the attempts left stay for real failures
            row.heartbeat_at = utcnow() + timedelta(seconds=waiting.delay)  # when it is due again
        return waiting.delay
    except JobCanceled:
        with db.session() as session:
            row = session.get(Job, job_id, with_for_update=True)
            if row is not None and _owns(row, attempt):
                _finish(session, row, JobStatus.canceled, message="Canceled", message_key="job.canceled",
                        message_args=None)
        return None
    except Exception as exc:
        log.warning("job %s (%s) attempt %d failed: %s", job_id, spec.kind, attempt, exc)
        _after_failure(runtime, job_id, attempt, exc)
        return None
    with db.session() as session:
        row = session.get(Job, job_id, with_for_update=True)
        if row is not None and _owns(row, attempt):
            row.progress = 100.0
            done = {} if row.message else {"message": "Done", "message_key": "job.done", "message_args": None}
            _finish(session, row, JobStatus.succeeded, result=result or {}, **done)


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
            told = _tell(row, f"Attempt {row.attempts} failed ({_error_text(exc)}); retrying in {retry_in:g} s",
                         "job.retrying", {"attempt": row.attempts, "error": _error_text(exc),
                                          "seconds": f"{retry_in:g}"})
            publish(session, job_id, "status", {"status": "queued", **told})
        else:
            log.debug("job %s failed:\n%s", job_id, "".join(traceback.format_exception(exc)))
            _finish(session, row, JobStatus.failed, error=_error_text(exc))
    if retry_in is not None:
        runtime.queue.send(job_id, queue_of(row.kind), delay=retry_in)


_LOST = "stopped during attempt"


def reap_stale(runtime: Runtime) -> int:
    """Requeue or fail running jobs whose worker stopped beating, resend lost messages; returns how many.

    Both are judged by `jobs.stale_after_seconds`: a running job whose heartbeat is older is
    taken as lost (its worker was killed); a queued job as old whose id is in none of the
    queue's messages (pending or scheduled) lost its message (a worker killed between taking
    and starting it, a Redis restarted empty) and is sent again. Duplicates are harmless:
    `execute` skips a job that is running or finished.
    """
    stale_after = runtime.settings.jobs.stale_after_seconds
    limit = utcnow() - timedelta(seconds=stale_after)
    requeue: list[tuple[str, Queue]] = []
    with runtime.db.session() as session:
        stale = session.scalars(
            select(Job).where(Job.status == JobStatus.running, Job.heartbeat_at < limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in stale:
            silent = (utcnow() - row.heartbeat_at).total_seconds() if row.heartbeat_at else stale_after
            lost = f"The worker {row.worker} {_LOST} {row.attempts} (silent for {silent:.0f} s)"
            if row.attempts < row.max_attempts and not row.cancel_requested:
                row.status = JobStatus.queued
                row.heartbeat_at = utcnow()
                told = _tell(row, f"{lost}; queued again", "job.worker_lost",
                             {"worker": row.worker, "attempt": row.attempts, "silent": f"{silent:.0f}"})
                publish(session, row.id, "status", {"status": "queued", **told, "progress": row.progress})
                requeue.append((row.id, queue_of(row.kind)))
                log.warning("job %s (%s): %s; queued again at %.0f %%", row.id, row.kind, lost, row.progress)
            else:
                log.warning("job %s (%s): %s; no attempts left", row.id, row.kind, lost)
                _finish(session, row, JobStatus.failed, error=f"{lost}; no attempts left")
        waiting = session.scalars(
            select(Job).where(Job.status == JobStatus.queued, Job.cancel_requested.is_(False),
                              Job.heartbeat_at < limit).with_for_update(skip_locked=True)
        ).all()
        resent = 0
        carried = runtime.queue.carried_ids({queue_of(row.kind) for row in waiting}) if waiting else {}
        for row in waiting:
            queue = queue_of(row.kind)
            if queue not in carried or row.id in carried[queue]:
                continue  # its message waits (or the queue could not be read: judge next time)
            row.heartbeat_at = utcnow()
            told = _tell(row, "The queue lost this job's message; sent again", "job.message_resent", {})
            publish(session, row.id, "status", {"status": "queued", **told})
            log.warning("job %s (%s): its message was lost from the %s queue; sent again", row.id, row.kind, queue)
            requeue.append((row.id, queue))
            resent += 1
    for job_id, queue in requeue:
        try:
            runtime.queue.send(job_id, queue)
        except Exception:  # the row stays queued: the next round sends it again
            log.exception("could not send job %s to the %s queue", job_id, queue)
    return len(stale) + resent


@dataclass(frozen=True)
class Periodic:
    """A task the fleet runs once every `every` seconds, whichever worker claims the round."""

    name: str
    every: float
    func: Callable[[Runtime], object]


def claim_round(db: Database, name: str, every: float, *, owner: str) -> bool:
    """Whether this process runs this round of `name`: it moved the shared schedule forward first."""
    now = utcnow()
    due = now + timedelta(seconds=every)
    with db.session() as session:
        claimed = session.execute(
            update(Schedule).where(Schedule.name == name, Schedule.next_run_at <= now)
            .values(next_run_at=due, owner=owner)
        ).rowcount
        if claimed or session.get(Schedule, name) is not None:
            return bool(claimed)
    try:  # the first round ever: whoever inserts the row runs it
        with db.session() as session:
            session.add(Schedule(name=name, next_run_at=due, owner=owner))
    except IntegrityError:
        return False
    return True


class Maintenance:
    """Periodic work on a loop of its own in each worker process, never behind jobs.

    One thread per task polls the shared schedule (`schedules` table); one process runs
    each round, and a killed one delays nothing: the next poll anywhere takes the next round.
    """

    def __init__(self, runtime: Runtime, tasks: list[Periodic]) -> None:
        self.runtime, self.tasks = runtime, tasks
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        for task in self.tasks:
            thread = threading.Thread(target=self._loop, args=(task,), daemon=True, name=f"boda-{task.name}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []

    def _loop(self, task: Periodic) -> None:
        owner = f"{socket.gethostname()}:{os.getpid()}"
        # Polls at half the period: a round starts at most half a period late (a poll that just
        # missed it), and the jitter keeps a fleet started together from polling in step.
        poll = min(task.every / 2, 30.0)
        while not self._stop.wait(poll * random.uniform(0.8, 1.0)):  # noqa: S311 - not security
            try:
                if claim_round(self.runtime.db, task.name, task.every, owner=owner):
                    task.func(self.runtime)
            except Exception:  # a missed round is retried at the next poll
                log.exception("periodic task %s failed", task.name)


def _app_periodic(settings: Any) -> list[Periodic]:
    """Each app's periodic tasks, as its spec declares them (`AppSpec.periodic`)."""
    from boda.core.apps import load, specs

    return [task for spec in specs() if spec.periodic for task in load(spec.periodic)(settings)]


def _sweep(runtime: Runtime) -> None:
    from boda.core.uploads import sweep_orphans

    sweep_orphans(runtime.db, runtime.store, grace_seconds=runtime.settings.storage.orphan_grace_seconds)


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A consumer that runs beside a web server: the server owns the signals."""

    def _set_signal_handlers(self) -> None:
        pass


def _make_huey(url: str, name: str, *, immediate: bool) -> Huey:
    if url.startswith("redis"):
        # A bounded connect: readiness and enqueue answer "unavailable" rather than hang on a lost host.
        from redis import ConnectionPool

        pool = ConnectionPool.from_url(url, socket_connect_timeout=5)
        return RedisHuey(name, connection_pool=pool, immediate=immediate, results=False)
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return SqliteHuey(name, filename=path, immediate=immediate, results=False)
    raise InvalidInput(f"Unsupported jobs URL {url!r}: use sqlite:///path or redis://host", key="jobs_url")


def _huey_name(queue: Queue) -> str:
    return "boda" if queue == Queue.default else f"boda.{queue}"


_OUTBOX, _LISTENING = "boda_job_outbox", "boda_job_outbox_listening"


class JobQueue:
    """One Huey per named queue, built from settings, carrying job ids to `execute`."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.hueys = {queue: _make_huey(settings.jobs_url, _huey_name(queue), immediate=settings.jobs.immediate)
                      for queue in Queue}
        self.huey = self.hueys[Queue.default]
        self._consumers: list[Consumer] = []
        self._tasks = {}
        for queue, huey in self.hueys.items():
            @huey.task(name="boda.run_job")
            def run_job(job_id: str) -> None:
                execute(runtime, job_id)

            self._tasks[queue] = run_job

        # Periodic work: one schedule for the fleet, on a loop of its own (not behind jobs).
        jobs = settings.jobs
        self.maintenance = Maintenance(runtime, [
            Periodic("reap_stale", jobs.maintenance_seconds, reap_stale),
            Periodic("sweep_blobs", jobs.sweep_seconds, _sweep),
            Periodic("analyze_db", settings.db.analyze_seconds, lambda runtime: runtime.db.analyze()),
            *_app_periodic(settings),
        ])

    def send(self, job_id: str, queue: Queue = Queue.default, *, delay: float | None = None) -> None:
        task = self._tasks[queue]
        if delay:
            task.schedule((job_id,), delay=delay)
        else:
            task(job_id)

    def check_available(self) -> None:
        """Refuse new work while the queue is down, before anything is stored."""
        conn = getattr(self.huey.storage, "conn", None)
        if conn is None or not hasattr(conn, "ping") or self.runtime.settings.jobs.immediate:
            return
        try:
            conn.ping()
        except Exception as exc:
            raise Unavailable("The job queue is unavailable; nothing was saved; try again later",
                              key="queue_down") from exc

    def carried_ids(self, queues: Iterable[Queue]) -> dict[Queue, set[str]]:
        """The job ids each queue holds a message for (waiting or scheduled for later).

        A queue that cannot be read is left out: its jobs are not taken for lost.
        """
        carried: dict[Queue, set[str]] = {}
        for queue in queues:
            huey = self.hueys[queue]
            try:
                tasks = [*huey.pending(), *huey.scheduled()]
            except Exception:
                log.exception("could not read the %s queue's messages", queue)
                continue
            carried[queue] = {str(task.args[0]) for task in tasks if task.args}
        return carried

    def check(self) -> None:
        """Raise if any queue's storage does not answer (readiness): Redis, or the SQLite queue file."""
        if self.runtime.settings.jobs.immediate:
            return
        for huey in self.hueys.values():
            huey.pending_count()

    def enqueue(self, session: Session, job: JobDef[PayloadT], *, payload: PayloadT | dict[str, Any],
                owner_id: str | None, title: str = "", title_key: str | None = None,
                title_args: dict[str, Any] | None = None) -> Job:
        """Add the job's row to the caller's transaction; its message leaves once that commits.

        A message sent before the commit could reach a worker before the row exists,
        and one sent for a transaction that then rolls back would run a ghost job.
        """
        try:
            valid = job.payload.model_validate(payload)
        except ValidationError as exc:
            raise InvalidInput(f"Invalid payload for {job.kind}: {exc.errors()[0]['msg']}",
                               details={"errors": exc.errors(include_url=False)}, key="invalid_payload") from exc
        self.check_available()
        attempts = job.max_attempts or self.runtime.settings.jobs.retries + 1
        row = Job(kind=job.kind, owner_id=owner_id, payload=valid.model_dump(mode="json"), title=title,
                  title_key=title_key, title_args=title_args, max_attempts=attempts, heartbeat_at=utcnow())
        session.add(row)
        session.flush()
        publish(session, row.id, "status", {"status": "queued"})
        if not session.info.get(_LISTENING):
            session.info[_LISTENING] = True
            event.listen(session, "after_commit", _send_outbox)
            event.listen(session, "after_rollback", _drop_outbox)
        session.info.setdefault(_OUTBOX, []).append((self, row.id, job.queue))
        return row

    def cancel(self, session: Session, row: Job) -> Job:
        if JobStatus(row.status).finished:
            raise Conflict(f"The job has already {row.status}", key="job_finished")
        row.cancel_requested = True
        if row.status == JobStatus.queued:
            # Not started: cancel now; the worker skips it when it comes.
            row.message, row.message_key, row.message_args = "Canceled", "job.canceled", None
            _finish(session, row, JobStatus.canceled)
        session.flush()
        return row

    def _workers(self, queues: Iterable[Queue] | None, workers: int | None) -> dict[Queue, int]:
        jobs = self.runtime.settings.jobs
        counts = {Queue.default: workers or jobs.workers, Queue.heavy: jobs.heavy_workers}
        return {queue: counts[queue] for queue in (queues or Queue) if counts[queue] > 0}

    def _consumer(self, queue: Queue, workers: int, cls: type[Consumer] = Consumer) -> Consumer:
        return cls(self.hueys[queue], workers=workers, worker_type="thread", periodic=False,
                   max_delay=1.0, check_worker_health=True)

    # The consumers: inside `boda serve` by default, or alone in `boda worker`.
    def start_consumer(self, *, workers: int | None = None, queues: Iterable[Queue] | None = None) -> None:
        reap_stale(self.runtime)
        for queue, count in self._workers(queues, workers).items():
            consumer = self._consumer(queue, count, _EmbeddedConsumer)
            consumer.start()
            self._consumers.append(consumer)
        self.maintenance.start()

    def stop_consumer(self, *, wait: float | None = None) -> None:
        """Stop this process's consumers; jobs still running after `wait` seconds go back to the queue.

        Without `wait` it waits for running jobs to end (`boda worker`'s graceful stop). A web
        server gives them a moment, then hands them back: a deploy never waits for a long batch,
        and the job goes on elsewhere (or after the restart) from where its work is.
        """
        self.maintenance.stop()
        for consumer in self._consumers:
            consumer.stop(graceful=False)
        deadline = time.monotonic() + (wait if wait is not None else float("inf"))
        threads = [thread for consumer in self._consumers for _, thread in consumer.worker_threads]
        for thread in threads:
            thread.join(None if wait is None else max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            self.release_running()
        self._consumers = []

    def release_running(self) -> int:
        """Queue again the jobs this process is running (it is stopping); their late writes are refused."""
        prefix = f"{socket.gethostname()}:{os.getpid()}:"
        released: list[tuple[str, Queue]] = []
        with self.runtime.db.session() as session:
            rows = session.scalars(select(Job).where(Job.status == JobStatus.running, Job.worker.startswith(prefix))
                                   .with_for_update(skip_locked=True)).all()
            for row in rows:
                row.status = JobStatus.queued
                row.heartbeat_at = utcnow()
                told = _tell(row, f"The server stopped during attempt {row.attempts}; queued again",
                             "job.server_stopped", {"attempt": row.attempts})
                publish(session, row.id, "status", {"status": "queued", **told})
                released.append((row.id, queue_of(row.kind)))
        for job_id, queue in released:
            log.warning("job %s handed back to the %s queue: this process is stopping", job_id, queue)
            try:
                self.send(job_id, queue)
            except Exception:  # the reaper sends it again
                log.exception("could not queue job %s again", job_id)
        return len(released)

    def run_consumer_forever(self, *, workers: int | None = None, queues: Iterable[Queue] | None = None) -> None:
        """`boda worker`: consumers for the chosen queues until SIGINT/SIGTERM, then a graceful stop."""
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.start_consumer(workers=workers, queues=queues)
        try:
            while not stop.wait(1.0):
                pass
        finally:
            self.stop_consumer()


def _send_outbox(session: Session) -> None:
    for queue, job_id, name in session.info.pop(_OUTBOX, []):
        try:
            queue.send(job_id, name)
        except Exception:  # the row is committed and queued: the reaper sends it again
            log.exception("could not send job %s to the %s queue; the reaper will resend it", job_id, name)


def _drop_outbox(session: Session) -> None:
    session.info.pop(_OUTBOX, None)


def get_job(session: Session, job_id: str, *, user_id: str, is_admin: bool = False) -> Job:
    """A job its owner (or an admin) may see; 404 for everyone else."""
    from boda.core.errors import NotFound

    row = session.get(Job, job_id)
    if row is None or (row.owner_id != user_id and not is_admin):
        raise NotFound(f"No job with id {job_id}", key="job_not_found")
    return row


def list_jobs(session: Session, *, user_id: str, status: list[JobStatus] | None = None,
              limit: int = 50, offset: int = 0) -> tuple[list[Job], int]:
    from boda.core.listing import paginate

    query = select(Job).where(Job.owner_id == user_id)
    if status:
        query = query.where(Job.status.in_(status))
    listed = paginate(session, query.order_by(Job.id.desc()), limit=limit, offset=offset)
    return listed.items, listed.total
