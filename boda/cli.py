"""The `boda` command: serve, worker, migrate, users, jobs, config, and app commands."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from boda.ai.cli import cli as models_cli
from boda.core.apps import load, specs
from boda.core.config import Settings, get_settings, masked
from boda.core.jobs import Queue
from boda.core.models import Job, JobStatus

if TYPE_CHECKING:
    from boda.core.runtime import Runtime

app = typer.Typer(help="Boda (보다): self-hosted multimodal AI.", no_args_is_help=True)
user_cli = typer.Typer(help="Manage accounts.", no_args_is_help=True)
jobs_cli = typer.Typer(help="Inspect background jobs.", no_args_is_help=True)
config_cli = typer.Typer(help="Show configuration.", no_args_is_help=True)
app.add_typer(user_cli, name="user")
app.add_typer(jobs_cli, name="jobs")
app.add_typer(config_cli, name="config")
app.add_typer(models_cli, name="models")
console = Console()


def _runtime(settings: Settings | None = None, *, migrate: bool = True) -> Runtime:
    from boda.core.logging import configure
    from boda.core.runtime import Runtime

    settings = settings or get_settings()
    if not logging.getLogger().handlers:  # a command's own output is on the console: warnings only, unless DEBUG
        configure(settings, level="DEBUG" if settings.log_level == "DEBUG" else "WARNING")
    runtime = Runtime(settings)
    if migrate:
        runtime.db.migrate()
    return runtime


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
) -> None:
    """Serve the web app and API, with a job worker inside unless BODA_JOBS__IN_PROCESS=false."""
    from boda.core.logging import configure
    from boda.web.server import serve as run_server

    settings = get_settings()
    configure(settings)
    console.print(f"[bold]Boda[/bold] on http://{host or settings.host}:{port or settings.port}")
    run_server(settings, host=host or settings.host, port=port or settings.port, reload=reload)


@app.command()
def worker(
    workers: Annotated[int | None, typer.Option(help="Threads for the default queue.")] = None,
    queue: Annotated[list[str] | None, typer.Option(help="Queues to serve: default, heavy (repeat; all if unset).")
                     ] = None,
) -> None:
    """Run a job worker (for BODA_JOBS__URL=redis://...; start one per machine)."""
    from boda.core.jobs import Queue
    from boda.core.logging import configure

    configure(get_settings())
    try:
        queues = [Queue(name) for name in queue] if queue else None
    except ValueError as exc:
        raise typer.BadParameter(f"{exc}; choose from {', '.join(Queue)}") from exc
    runtime = _runtime()
    console.print(f"Boda worker on {masked(runtime.settings)['jobs']['url']} "
                  f"({', '.join(queues or Queue)})")
    runtime.queue.run_consumer_forever(workers=workers, queues=queues)


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    runtime = _runtime(migrate=False)
    runtime.db.migrate()
    console.print(f"Database at head: {masked(runtime.settings)['db']['url']}")


@user_cli.command("create")
def user_create(
    username: str,
    password: Annotated[str | None, typer.Option(help="Asked for when not given.")] = None,
    admin: Annotated[bool, typer.Option(help="Make an administrator.")] = False,
) -> None:
    """Create an account."""
    from boda.core.auth import create_user
    from boda.core.models import Role

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    runtime = _runtime()
    with runtime.db.session() as session:
        user = create_user(session, username=username, password=password,
                           role=Role.admin if admin else Role.user)
        console.print(f"Created {'admin' if admin else 'user'} {user.username} ({user.id})")


@user_cli.command("ensure-admin")
def user_ensure_admin(username: str = "admin") -> None:
    """Create a first administrator when there are no accounts, and print its password once."""
    from boda.core.auth import count_users, create_user
    from boda.core.config import new_secret
    from boda.core.models import Role

    runtime = _runtime()
    with runtime.db.session() as session:
        if count_users(session):
            console.print("Accounts exist; add more with: boda user create NAME")
            return
        password = new_secret()[:20]
        create_user(session, username=username, password=password, role=Role.admin)
    console.print(f"[bold]First administrator created[/bold]: {username} / {password}\n"
                  "Keep this password; it is not shown again. Add users with: boda user create NAME")


@user_cli.command("token")
def user_token(username: str, name: Annotated[str | None, typer.Option(
        help="A label shown on the account page (default: cli@<this host>).")] = None) -> None:
    """Create an API token for a user and print it once."""
    import socket

    from boda.core.accounts import find_user
    from boda.core.auth import create_api_token

    runtime = _runtime()
    with runtime.db.session() as session:
        user = find_user(session, username)
        _, secret = create_api_token(session, user=user, name=name or f"cli@{socket.gethostname()}"[:128])
    console.print(secret)


@user_cli.command("list")
def user_list() -> None:
    """List accounts."""
    from boda.core.accounts import list_users

    runtime = _runtime()
    table = Table("username", "role", "active", "id", "created")
    with runtime.db.session() as session:
        for user in list_users(session):
            table.add_row(user.username, user.role, "yes" if user.is_active else "no (disabled)", user.id,
                          user.created_at.isoformat(timespec="seconds"))
    console.print(table)


@user_cli.command("set-password")
def user_set_password(
    username: str,
    password: Annotated[str | None, typer.Option(help="Asked for when not given.")] = None,
    revoke_tokens: Annotated[bool, typer.Option(help="Also revoke every API token of the user.")] = False,
) -> None:
    """Reset a user's password; their browser sessions end (their API tokens too with --revoke-tokens)."""
    from boda.core.accounts import find_user, set_password

    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    runtime = _runtime()
    with runtime.db.session() as session:
        ended = set_password(session, user=find_user(session, username), password=password,
                             revoke_tokens=revoke_tokens)
    kept = "revoked" if revoke_tokens else "kept"
    console.print(f"Password of {username} changed; {ended} browser session(s) ended; API tokens {kept}.")


def _set_active(username: str, active: bool) -> None:
    from boda.core.accounts import find_user, set_active

    runtime = _runtime()
    with runtime.db.session() as session:
        set_active(session, user=find_user(session, username), active=active)


@user_cli.command("disable")
def user_disable(username: str) -> None:
    """Disable an account: its sessions end and its tokens stop working at once (nothing is deleted)."""
    _set_active(username, False)
    console.print(f"Disabled {username}; enable again with: boda user enable {username}")


@user_cli.command("enable")
def user_enable(username: str) -> None:
    """Enable a disabled account again (its API tokens work again)."""
    _set_active(username, True)
    console.print(f"Enabled {username}")


@user_cli.command("delete")
def user_delete(
    username: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an account with its files, jobs and tokens; households it owns pass to another member."""
    from boda.core.accounts import delete_user, find_user, holdings

    runtime = _runtime()
    with runtime.db.session() as session:
        user = find_user(session, username)
        held = holdings(session, user)
        if not yes:
            typer.confirm(f"Delete {username} with {held.files} file(s) and {held.jobs} job(s)"
                          f"{f', handing over {held.households_owned} household(s)' if held.households_owned else ''}?"
                          " This cannot be undone", abort=True)
        delete_user(session, user=user)
    console.print(f"Deleted {username}")


@jobs_cli.command("list")
def jobs_list(
    status: Annotated[list[JobStatus] | None, typer.Option(
        help="Only jobs in this state (repeat for several).", case_sensitive=False)] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first.")] = 20,
) -> None:
    """List recent jobs of all users, with whole ids (for `/api/v1/jobs/ID`)."""
    from rich.table import Column
    from sqlalchemy import select

    from boda.core.models import Job

    runtime = _runtime()
    table = Table(Column("id", no_wrap=True, min_width=36), Column("kind", no_wrap=True), "status", "progress",
                  Column("message", overflow="fold"))
    with runtime.db.session() as session:
        query = select(Job).order_by(Job.id.desc()).limit(limit)
        if status:
            query = query.where(Job.status.in_(status))
        for row in session.scalars(query):
            table.add_row(row.id, row.kind, row.status, f"{row.progress:.0f}%", row.error or row.message)
    console.print(table)


def follow_job(runtime: Runtime, job_id: str, *, pickup_timeout: float | None = None) -> Job:
    """Show a job's progress as a bar until it finishes (in-process or on a worker).

    With `pickup_timeout`, a job no worker has started by then is returned still queued.
    """
    import time

    from rich.progress import Progress

    from boda.core.models import Job

    started = time.monotonic()
    with Progress(console=console, transient=pickup_timeout is not None) as bar:
        task = bar.add_task("queued", total=100)
        while True:
            with runtime.db.session() as session:
                row = session.get(Job, job_id)
                assert row is not None
            bar.update(task, completed=row.progress, description=row.message or row.status)
            if JobStatus(row.status).finished:
                return row
            if (pickup_timeout is not None and row.status == JobStatus.queued
                    and time.monotonic() - started > pickup_timeout):
                return row
            time.sleep(0.2)


@jobs_cli.command("selftest")
def jobs_selftest(
    seconds: Annotated[float, typer.Option(min=0, max=3600, help="How long the job runs.")] = 2.0,
    timeout: Annotated[float, typer.Option(min=0.5, help="Seconds to wait for a worker to take the job.")] = 15.0,
    queue: Annotated[list[Queue] | None, typer.Option(help="Queues to test (repeat; both if unset).")] = None,
    local: Annotated[bool, typer.Option(
        help="Run a worker in this command instead (tests the queue, not the running workers).")] = False,
) -> None:
    """Send a small job through the configured queue and report which worker ran it.

    The job goes to the workers the server really uses: `boda serve`'s own (jobs.in_process)
    or `boda worker` processes on Redis. When none takes it in time, it says so and exits 1.
    """
    from boda.core.selftest import Selftest, for_queue

    runtime = _runtime()
    jobs = runtime.settings.jobs
    where = masked(runtime.settings)["jobs"]["url"]
    if local and not jobs.immediate:
        runtime.queue.start_consumer(workers=1, queues=queue or list(Queue))
    failed = False
    try:
        for name in queue or list(Queue):
            with runtime.db.session() as session:
                row = runtime.queue.enqueue(session, for_queue(name), owner_id=None,
                                            payload=Selftest(seconds=seconds, steps=10), title="selftest")
            done = follow_job(runtime, row.id, pickup_timeout=timeout)
            if done.status == JobStatus.queued:
                with runtime.db.session() as session:
                    runtime.queue.cancel(session, session.get(Job, row.id))  # type: ignore[arg-type]
                console.print(f"{name}: no worker took the job within {timeout:g} s on {where}. "
                              + _no_worker_hint(runtime, name), highlight=False)
                failed = True
            elif done.status == JobStatus.succeeded:
                console.print(f"{name}: succeeded on worker {(done.result or {}).get('worker')}", highlight=False)
            else:
                console.print(f"{name}: {done.status}: {done.error or done.message}", highlight=False)
                failed = True
    finally:
        runtime.close()
    if failed:
        raise typer.Exit(1)


def _no_worker_hint(runtime: Runtime, queue: Queue) -> str:
    jobs = runtime.settings.jobs
    heavy = queue == Queue.heavy
    if jobs.url.startswith("redis"):
        return f"Start one with: boda worker --queue {queue}"
    if not jobs.in_process:
        return f"jobs.in_process is off: start one with: boda worker --queue {queue}"
    if heavy and jobs.heavy_workers == 0:
        return "jobs.heavy_workers is 0: start one with: boda worker --queue heavy"
    return "Is `boda serve` running? It runs the worker (jobs.in_process), or use --local to test the queue alone."


@config_cli.command("show")
def config_show() -> None:
    """Print the effective settings, secrets masked."""
    console.print_json(json.dumps(masked(get_settings())))


for _spec in specs():
    if _spec.cli:
        app.add_typer(load(_spec.cli), name=_spec.key)


def main() -> None:
    """Entry point: domain errors become one red line and exit code 1 (settings errors: 2), not a traceback."""
    from boda.core.errors import BodaError, ConfigError

    errors = Console(stderr=True)
    try:
        app()
    except ConfigError as exc:
        errors.print(exc.message, style="red", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(2) from exc
    except BodaError as exc:
        errors.print(exc.message, style="red", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
