"""`boda album ...`: import a folder of photos into a user's library."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from boda.core.errors import BodaError

cli = typer.Typer(help="Album: import photos into a library.", no_args_is_help=True)
console = Console()

SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".gif"})
INDEX_BATCH = 500  # photo ids per album.index job


def photo_files(folder: Path, *, recursive: bool) -> list[Path]:
    """Image files by extension (the bytes are still checked on import), in a stable order."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and not p.is_symlink() and p.suffix.lower() in SUFFIXES)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _chunks(ids: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


@cli.command("import")
def import_command(
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of photos.")],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Include sub-folders.")] = False,
    user: Annotated[str | None, typer.Option(help="Whose library (default: the only user there is).")] = None,
) -> None:
    """Import photos; a second run skips files the library already has (same SHA-256)."""
    from boda.apps.album import service
    from boda.cli import _runtime
    from boda.core.accounts import find_user, list_users

    runtime = _runtime()
    with runtime.db.session() as session:
        if user is None:
            users = list_users(session)
            if len(users) != 1:
                raise typer.BadParameter("name the user whose library this is", param_hint="--user")
            owner_id = users[0].id
        else:
            owner_id = find_user(session, user).id
    files = photo_files(folder, recursive=recursive)
    imported: list[str] = []
    skipped = failed = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("importing", total=len(files))
        for path in files:
            bar.update(task, description=path.name[:40])
            with runtime.db.session() as session:  # one photo per transaction: an interrupted run resumes
                if service.owned_by_hash(session, owner_id, [file_sha256(path)]):
                    skipped += 1
                else:
                    try:
                        with path.open("rb") as source:
                            stored = service.upload_photos(session, runtime, owner_id=owner_id,
                                                           files=[(source, path.name)], enqueue=False)
                        imported += [s.photo.id for s in stored if s.duplicate_of is None]
                        skipped += sum(1 for s in stored if s.duplicate_of is not None)
                    except BodaError as exc:
                        failed += 1
                        bar.console.print(f"[yellow]skipped {path}: {exc.message}[/yellow]")
            bar.advance(task)
    with runtime.db.session() as session:
        for ids in _chunks(imported, INDEX_BATCH):
            service.queue_index(session, runtime, owner_id=owner_id, photo_ids=ids)
    console.print(f"Imported {len(imported)}, skipped {skipped} already in the library, failed {failed} "
                  f"(of {len(files)} files).")
    runtime.close()
    if failed:
        raise typer.Exit(1)


def _owner(session: object, user: str | None) -> str:
    from boda.core.accounts import find_user, list_users

    if user is None:
        users = list_users(session)  # type: ignore[arg-type]
        if len(users) != 1:
            raise typer.BadParameter("name the user whose library this is", param_hint="--user")
        return users[0].id
    return find_user(session, user).id  # type: ignore[arg-type]


@cli.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="What the photos show, in Korean or English.")],
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many photos.")] = 10,
    user: Annotated[str | None, typer.Option(help="Whose library (default: the only user there is).")] = None,
) -> None:
    """Find photos by what is in them (e.g. `boda album search "빨간 자동차"`), best first."""
    from boda.apps.album import search
    from boda.apps.album.service import PhotoFilters
    from boda.cli import _runtime
    from boda.core.auth import Scope
    from boda.core.models import User

    runtime = _runtime()
    try:
        with runtime.db.session() as session:
            owner = session.get(User, _owner(session, user))
            found = search.by_text(session, runtime, Scope.of(owner), query, PhotoFilters(), limit=limit)
            for hit in found.hits:
                taken = hit.photo.taken_at.strftime("%Y-%m-%d")
                console.print(f"{hit.score:6.3f}  {hit.photo.id}  {taken}  {hit.photo.filename}"
                              + (f"  [dim]{hit.photo.caption}[/dim]" if hit.photo.caption else ""))
            if not found.hits:
                console.print("No photos found.")
            if found.pending:
                console.print(f"[yellow]{found.pending} photos are not indexed by {found.backend} yet.[/yellow]")
    except BodaError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    finally:
        runtime.close()


@cli.command("reindex")
def reindex_command(
    user: Annotated[str | None, typer.Option(help="Only this user's photos (default: everyone's).")] = None,
) -> None:
    """Queue indexing for photos the current backend (ai.image_text_embedder) has not indexed."""
    from boda.apps.album.indexing import queue_stale
    from boda.cli import _runtime

    runtime = _runtime()
    try:
        with runtime.db.session() as session:
            owner_id = _owner(session, user) if user else None
            queued = queue_stale(session, runtime, owner_id=owner_id)
        console.print(f"Queued {queued} photos for indexing by {runtime.ai.get('image_text_embedder').key}.")
    finally:
        runtime.close()
