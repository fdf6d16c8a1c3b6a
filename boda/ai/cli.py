"""`boda models ...`: which weights are declared, where each was found, and downloads."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from boda.ai.catalog import WEIGHTS, declared, fetch, locate
from boda.core.config import get_settings
from boda.core.errors import Unavailable

cli = typer.Typer(help="Model weights: what is declared, where it is, downloads.", no_args_is_help=True)
console = Console()


@cli.command("list")
def list_command() -> None:
    """Every declared weights file: where it was found and whether its SHA-256 was verified."""
    models_dir = get_settings().models_dir
    table = Table("name", "file", "MB", "licence", "found", "verified")
    missing = 0
    for weights in WEIGHTS.values():
        try:
            found = locate(weights, models_dir=models_dir)
            unverified = "no (trained here)" if weights.trainable else "no (digest unknown)"
            where, verified = f"{found.origin}: {found.path}", "yes" if found.verified else unverified
        except Unavailable as exc:
            missing += not weights.optional
            where, verified = f"[red]{exc.message}[/red]", "-"
        size = f"{weights.size / 1e6:.1f}" if weights.size else "?"
        table.add_row(weights.name, weights.filename, size, weights.licence, where, verified)
    console.print(table)
    console.print(f"Models folder: {models_dir}")
    if missing:
        raise typer.Exit(1)


@cli.command("fetch")
def fetch_command(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(WEIGHTS)}")],
    force: Annotated[bool, typer.Option("--force", help="Download even when a verified copy exists.")] = False,
) -> None:
    """Download weights into the models folder (checksummed, resumable), unless a verified copy exists."""
    models_dir = get_settings().models_dir
    try:
        weights = declared(name)
        if not force:
            try:
                found = locate(weights, models_dir=models_dir)
                console.print(f"{weights.filename}: already here ({found.origin}: {found.path})")
                return
            except Unavailable:
                pass
        path = fetch(weights, models_dir, progress=True)
    except Unavailable as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"{weights.filename}: downloaded{' and verified' if weights.sha256 else ''} → {path}")
