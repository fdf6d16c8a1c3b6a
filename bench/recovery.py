"""Recovery times of the many-machine setup: a killed worker's job, and messages Redis lost.

Run: .venv/bin/python bench/recovery.py [--rounds 3]
Prints figures; asserts nothing.

Starts a real PostgreSQL and Redis as the tests do (tests/services.py), migrates, and runs
`boda worker --workers 1` processes with the shipped job timings (heartbeat, stale limit,
maintenance round: see the first line printed).

1. Killed worker: two workers; a `core.selftest` job (40 s in 80 steps) runs on one; once past
   10 % that worker gets SIGKILL. Measured: from the kill to the job running again on the other
   worker (attempt 2), and the progress at the kill against the first progress of attempt 2.
   A fresh worker replaces the killed one before the next round.
2. Lost messages: both workers busy with long jobs; three short jobs wait in Redis; Redis is
   flushed (as a restart without persistence would). Measured: from the flush to each job's
   "sent again" event, and to its success once the long jobs are canceled.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent)]

from sqlalchemy import select  # noqa: E402

from boda.core.config import Settings  # noqa: E402
from boda.core.models import Job, JobEvent  # noqa: E402
from boda.core.runtime import Runtime  # noqa: E402
from boda.core.selftest import selftest  # noqa: E402
from tests.services import postgres_server, redis_server  # noqa: E402


def poll(what: str, check, timeout: float = 60.0, every: float = 0.02):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every)
    raise TimeoutError(what)


class Fleet:
    def __init__(self, runtime: Runtime, base: Path) -> None:
        self.runtime, self.base, self.procs = runtime, base, []  # type: ignore[var-annotated]
        settings = runtime.settings
        self.env = {**os.environ, "BODA_DATA_DIR": str(settings.data_dir), "BODA_DB__URL": settings.database_url,
                    "BODA_JOBS__URL": settings.jobs_url, "BODA_CONFIG": "",
                    "BODA_JOBS__HEAVY_WORKERS": "0", "PYTHONPATH": str(BENCH.parent)}

    def start(self) -> subprocess.Popen[bytes]:
        log = self.base / f"worker{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "boda", "worker", "--workers", "1"], env=self.env,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        poll("worker start", lambda: "Boda worker on" in log.read_text(errors="replace"), timeout=120)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def row(runtime: Runtime, job_id: str) -> Job:
    with runtime.db.session() as session:
        found = session.get(Job, job_id)
        assert found is not None
        return found


def enqueue(runtime: Runtime, seconds: float, steps: int) -> str:
    with runtime.db.session() as session:
        return runtime.queue.enqueue(session, selftest, owner_id=None,
                                     payload={"seconds": seconds, "steps": steps}).id


def cancel(runtime: Runtime, job_ids: list[str]) -> None:
    with runtime.db.session() as session:
        for job_id in job_ids:
            session.get(Job, job_id).cancel_requested = True  # type: ignore[union-attr]


def killed_worker(runtime: Runtime, fleet: Fleet, rounds: int) -> list[tuple[float, float, float]]:
    results = []
    while len([p for p in fleet.procs if p.poll() is None]) < 2:
        fleet.start()
    for _ in range(rounds):
        job_id = enqueue(runtime, 40, 80)
        running = poll("10 %", lambda j=job_id: (r := row(runtime, j)).progress >= 10 and r, timeout=120)
        pid = int(running.worker.split(":")[1])
        victim = next(p for p in fleet.procs if p.pid == pid)
        os.killpg(victim.pid, signal.SIGKILL)
        killed, at_kill = time.monotonic(), running.progress
        victim.wait(10)
        poll("resumed", lambda j=job_id: row(runtime, j).attempts >= 2, timeout=120)
        resumed = time.monotonic() - killed
        first = poll("progress", lambda j=job_id: (r := row(runtime, j)).message.startswith("step") and r.progress)
        results.append((resumed, at_kill, first))
        cancel(runtime, [job_id])
        poll("canceled", lambda j=job_id: row(runtime, j).status == "canceled", timeout=30)
        fleet.start()
    return results


def lost_messages(runtime: Runtime, fleet: Fleet) -> list[tuple[float, float]]:
    long = [enqueue(runtime, 120, 120) for _ in range(2)]
    poll("both busy", lambda: all(row(runtime, j).status == "running" for j in long), timeout=60)
    waiting = [enqueue(runtime, 0, 1) for _ in range(3)]
    time.sleep(1.0)
    runtime.queue.huey.storage.conn.flushall()
    flushed = time.monotonic()
    resent: dict[str, float] = {}

    def all_resent() -> bool:
        with runtime.db.session() as session:
            for job_id in waiting:
                if job_id not in resent and session.scalar(select(JobEvent.id).where(
                        JobEvent.job_id == job_id, JobEvent.data["message"].as_string().like("%sent again%"))):
                    resent[job_id] = time.monotonic() - flushed
        return len(resent) == len(waiting)

    poll("resent", all_resent, timeout=120)
    cancel(runtime, long)
    done = {}
    for job_id in waiting:
        poll("finished", lambda j=job_id: row(runtime, j).status == "succeeded", timeout=120)
        done[job_id] = time.monotonic() - flushed
    return [(resent[j], done[j]) for j in waiting]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="killed-worker rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="boda-recovery-") as tmp:
        base = Path(tmp)
        with postgres_server(base / "pg") as pg_url, redis_server(base / "redis") as redis_url:
            settings = Settings(_env_file=None, data_dir=base / "data", db={"url": pg_url},  # type: ignore[call-arg]
                                jobs={"url": redis_url, "in_process": False})
            jobs = settings.jobs
            print(f"timings: heartbeat {jobs.heartbeat_seconds:g} s, stale after {jobs.stale_after_seconds:g} s, "
                  f"maintenance every {jobs.maintenance_seconds:g} s; PostgreSQL + Redis, {os.cpu_count()} cores")
            runtime = Runtime(settings)
            runtime.db.migrate()
            fleet = Fleet(runtime, base)
            try:
                kills = killed_worker(runtime, fleet, args.rounds)
                print("\nkilled worker (SIGKILL) -> job running again on another worker")
                for i, (seconds, at_kill, first) in enumerate(kills, 1):
                    print(f"  round {i}: resumed after {seconds:5.1f} s; progress {at_kill:.1f} % at the kill, "
                          f"{first:.1f} % first reported by attempt 2")
                print(f"  median {statistics.median(k[0] for k in kills):.1f} s, max {max(k[0] for k in kills):.1f} s")
                lost = lost_messages(runtime, fleet)
                print("\nRedis flushed with 3 jobs waiting -> each sent again / finished")
                for i, (resent, done) in enumerate(lost, 1):
                    print(f"  job {i}: sent again after {resent:5.1f} s, finished after {done:5.1f} s")
            finally:
                fleet.stop()
                runtime.close()


if __name__ == "__main__":
    main()
