"""`boda studio ...`: make a 3D model from a sentence, add a 3D file, retrain the aesthetic scorer."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from boda.core.errors import BodaError

cli = typer.Typer(help="3D Studio: generate, import and score 3D models.", no_args_is_help=True)
console = Console()


def _owner(session: object, user: str | None) -> str:
    from boda.core.accounts import find_user, list_users

    if user is None:
        users = list_users(session)  # type: ignore[arg-type]
        if len(users) != 1:
            raise typer.BadParameter("name the user whose model this is", param_hint="--user")
        return users[0].id
    return find_user(session, user).id  # type: ignore[arg-type]


def _immediate_runtime():  # type: ignore[no-untyped-def]
    """A runtime that runs its jobs here, in this process (waiting steps included), not in a server."""
    from boda.cli import _runtime
    from boda.core.config import get_settings

    settings = get_settings()
    settings = settings.model_copy(update={"jobs": settings.jobs.model_copy(update={"immediate": True})})
    return _runtime(settings)


def _follow(runtime, job_id_box: list[str], work: threading.Thread) -> None:  # type: ignore[no-untyped-def]
    """Draw the job's progress bar from its row while `work` runs it."""
    from boda.core.models import Job

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("starting", total=100)
        while work.is_alive():
            if job_id_box:
                with runtime.db.session() as session:
                    row = session.get(Job, job_id_box[0])
                    if row is not None:
                        bar.update(task, completed=row.progress, description=(row.message or row.status)[:50])
            time.sleep(0.2)
        bar.update(task, completed=100)


def _write_files(runtime, model_id: str, out: Path, formats: list[str]) -> list[Path]:  # type: ignore[no-untyped-def]
    from boda.apps.studio import service
    from boda.apps.studio.models import StudioModel

    written = []
    out.mkdir(parents=True, exist_ok=True)
    with runtime.db.session() as session:
        model = session.get(StudioModel, model_id)
        for fmt in formats:
            if fmt not in service.model_files(session, model_id):
                continue
            row = service.file_row(session, model, fmt)
            path = out / service.download_name(model, fmt)
            path.write_bytes(runtime.store.read(row.blob_key))
            written.append(path)
    return written


@cli.command("generate")
def generate_command(
    prompt: Annotated[str, typer.Argument(help="What to make, e.g. \"빨간 소방차 장난감\".")],
    provider: Annotated[str | None, typer.Option(help="composer (offline), meshy or hunyuan3d; default "
                                                 "generate3d.provider.")] = None,
    enhance: Annotated[bool, typer.Option("--enhance/--no-enhance", help="Let the LLM enhance the prompt first.")
                       ] = False,
    user: Annotated[str | None, typer.Option(help="Whose model (default: the only user there is).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the model's files (GLB, FBX, OBJ zip, USDZ, STL) "
                                             "here.")] = None,
) -> None:
    """Make a 3D model from a sentence, with a progress bar; it lands in your Studio library."""
    from boda.apps.studio import routes, uploading
    from boda.apps.studio.models import StudioModel
    from boda.core.auth import Scope
    from boda.core.models import User

    runtime = _immediate_runtime()
    box: list[str] = []
    failure: list[BaseException] = []
    model_box: list[str] = []

    def work() -> None:
        try:
            with runtime.db.session() as session:
                owner = session.get(User, _owner(session, user))
                providers = {p.name for p in routes._providers(runtime)}
                model, job_id = uploading.start_generation(session, runtime, Scope.of(owner), prompt=prompt,
                                                           provider=provider, enhance=enhance, providers=providers,
                                                           commit=False)
                model_id = model.id
                box.append(job_id)
                session.commit()  # immediate mode: the job runs here, step by step
                model_box.append(model_id)
        except BaseException as exc:  # shown below, after the progress bar
            failure.append(exc)

    thread = threading.Thread(target=work, name="studio-generate")
    thread.start()
    _follow(runtime, box, thread)
    thread.join()
    if failure:
        exc = failure[0]
        console.print(f"[red]{exc.message if isinstance(exc, BodaError) else exc}[/red]")
        raise typer.Exit(1)
    with runtime.db.session() as session:
        model = session.get(StudioModel, model_box[0])
        status, error, enhanced = model.status, model.error, model.enhanced_prompt
        score, method, model_id = model.score, model.score_method, model.id
    if status != "ready":
        console.print(f"[red]The generation {status}: {error}[/red]")
        raise typer.Exit(1)
    if enhanced:
        console.print(f"Enhanced prompt: {enhanced}")
    console.print(f"Model {model_id} is ready" + (f"; score {score:.1f} ({method})" if score is not None else ""))
    if out is not None:
        for path in _write_files(runtime, model_id, out, ["glb", "fbx", "obj", "usdz", "stl"]):
            console.print(f"wrote {path}")
    runtime.close()


@cli.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="GLB, glTF/OBJ zip, STL, PLY or FBX.")],
    user: Annotated[str | None, typer.Option(help="Whose model (default: the only user there is).")] = None,
) -> None:
    """Add a 3D file to your Studio library and prepare its thumbnail, formats and score."""
    from boda.apps.studio import service, uploading

    runtime = _immediate_runtime()
    try:
        with runtime.db.session() as session, path.open("rb") as source:
            model, _ = uploading.upload(session, runtime, owner_id=_owner(session, user), source=source,
                                        filename=path.name)
            session.refresh(model)  # its processing job ran here (immediate mode)
            stats = model.stats or {}
            console.print(f"Model {model.id}: {model.status}; {stats.get('triangles', 0):,} triangles; formats "
                          + ", ".join(sorted(service.model_files(session, model.id))))
    except BodaError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    finally:
        runtime.close()


@cli.command("train-scorer")
def train_scorer_command() -> None:
    """Learn the aesthetic score from the community's 1–10 ratings, and rescore every model."""
    from boda.apps.studio import scoring
    from boda.cli import _runtime

    runtime = _runtime()
    try:
        report = scoring.train_scorer(runtime, progress=lambda message: console.print(message))
    except BodaError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    console.print(f"Trained on {report['trained_on']} rated models; held-out Spearman "
                  f"{report['spearman']:.3f}; rescored {report['rescored']} models.")
