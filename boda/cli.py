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

if TYPE_CHECKING:
    from boda.core.models import Job
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
def user_token(username: str, name: Annotated[str, typer.Option(help="A label.")] = "cli") -> None:
    """Create an API token for a user and print it once."""
    from sqlalchemy import select

    from boda.core.auth import create_api_token
    from boda.core.models import User

    runtime = _runtime()
    with runtime.db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise typer.BadParameter(f"No user named {username!r}")
        _, secret = create_api_token(session, user=user, name=name)
    console.print(secret)


@user_cli.command("list")
def user_list() -> None:
    """List accounts."""
    from sqlalchemy import select

    from boda.core.models import User

    runtime = _runtime()
    table = Table("username", "role", "id", "created")
    with runtime.db.session() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            table.add_row(user.username, user.role, user.id, user.created_at.isoformat(timespec="seconds"))
    console.print(table)


@jobs_cli.command("list")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="queued, running, succeeded, failed, canceled")] = None,
    limit: int = 20,
) -> None:
    """List recent jobs of all users."""
    from sqlalchemy import select

    from boda.core.models import Job

    runtime = _runtime()
    table = Table("id", "kind", "status", "progress", "message")
    with runtime.db.session() as session:
        query = select(Job).order_by(Job.id.desc()).limit(limit)
        if status:
            query = query.where(Job.status == status)
        for row in session.scalars(query):
            table.add_row(row.id, row.kind, row.status, f"{row.progress:.0f}%", row.error or row.message)
    console.print(table)


def follow_job(runtime: Runtime, job_id: str) -> Job:
    """Show a job's progress as a bar until it finishes (in-process or on a worker)."""
    import time

    from rich.progress import Progress

    from boda.core.models import Job, JobStatus

    with Progress(console=console) as bar:
        task = bar.add_task("queued", total=100)
        while True:
            with runtime.db.session() as session:
                row = session.get(Job, job_id)
                assert row is not None
            bar.update(task, completed=row.progress, description=row.message or row.status)
            if JobStatus(row.status).finished:
                return row
            time.sleep(0.2)


@jobs_cli.command("selftest")
def jobs_selftest(seconds: float = 2.0) -> None:
    """Run a small job through the queue and show its progress (is a worker running?)."""
    from boda.core.selftest import Selftest, selftest

    runtime = _runtime()
    in_process = runtime.settings.jobs.in_process and not runtime.settings.jobs.immediate
    if in_process:
        runtime.queue.start_consumer(workers=1)
    try:
        with runtime.db.session() as session:
            row = runtime.queue.enqueue(session, selftest, owner_id=None,
                                        payload=Selftest(seconds=seconds, steps=10), title="selftest")
        done = follow_job(runtime, row.id)
    finally:
        runtime.close()
    console.print(f"{done.status}: {done.result or done.error}")
    if done.status != "succeeded":
        raise typer.Exit(1)


@config_cli.command("show")
def config_show() -> None:
    """Print the effective settings, secrets masked."""
    console.print_json(json.dumps(masked(get_settings())))


for _spec in specs():
    if _spec.cli:
        app.add_typer(load(_spec.cli), name=_spec.key)


def main() -> None:
    """Entry point: domain errors become one red line and exit code 1, not a traceback."""
    from boda.core.errors import BodaError

    try:
        app()
    except BodaError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
