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
