"""`boda pantry ...`: add items and see what to eat first, from the terminal."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

cli = typer.Typer(help="Pantry: what is in the fridge and what to eat first.", no_args_is_help=True)
console = Console()

UserOption = Annotated[str, typer.Option("--user", "-u", help="Whose household (a username).",
                                         envvar="BODA_PANTRY_USER")]
HouseholdOption = Annotated[str | None, typer.Option(help="Household id (default: the user's first).")]


def _context(username: str, household_id: str | None):  # noqa: ANN202
    from boda.cli import _runtime
    from boda.core.accounts import find_user

    runtime = _runtime()
    return runtime, find_user, username, household_id


def _fail(message: str) -> None:
    console.print(f"[red]{message}[/red]")
    raise typer.Exit(1)


def _days(value: int | None) -> str:
    return "–" if value is None else f"{value:+d}"


@cli.command("add")
def add(name: str, user: UserOption,
        qty: Annotated[float, typer.Option("--qty", min=0.001, help="Quantity.")] = 1.0,
        unit: Annotated[str, typer.Option(help="Unit: 개, g, pack ...")] = "",
        place: Annotated[str | None, typer.Option(help="Place name or kind (fridge, freezer, pantry).")] = None,
        household: HouseholdOption = None) -> None:
    """Add an item; its place and consume-by date come from shelf life (USDA FoodKeeper)."""
    from boda.apps.pantry import service
    from boda.core.auth import Scope
    from boda.core.errors import BodaError

    runtime, find_user, username, household_id = _context(user, household)
    try:
        with runtime.db.session() as session:
            account = find_user(session, username)
            scope = Scope.of(account)
            hid = _household(session, scope, household_id, username)
            service.ensure_default_places(session, hid)
            place_id = _place_id(session, scope, hid, place) if place else None
            item, _ = service.create_item(session, scope, hid, name=name, quantity=qty, unit=unit,
                                          place_id=place_id)
            where = next((p.name for p in service.list_places(session, scope, hid) if p.id == item.place_id), "–")
            by = item.consume_by.date().isoformat() if item.consume_by else "no date (unknown shelf life)"
            console.print(f"Added {item.name} {item.quantity:g}{item.unit} → {where}, consume by {by} ({item.id})")
    except BodaError as exc:
        _fail(exc.message)


def _household(session, scope, household_id, username):  # noqa: ANN001, ANN202
    """The user's household; a user in none gets one of their own, so the CLI works on a fresh install."""
    from boda.apps.pantry import service
    from boda.core import households
    from boda.core.errors import Conflict

    try:
        return service.household_for(session, scope, household_id)
    except Conflict:
        return households.create(session, user_id=scope.user_id, name=f"{username}'s kitchen").id


def _place_id(session, scope, household_id, wanted):  # noqa: ANN001, ANN202
    from boda.apps.pantry import service

    places = service.list_places(session, scope, household_id)
    match = next((p for p in places if p.name.casefold() == wanted.casefold()), None) or next(
        (p for p in places if str(p.kind) == wanted.casefold()), None)
    if match is None:
        _fail(f"No place named {wanted!r}: " + ", ".join(p.name for p in places))
    return match.id


def _table(rows) -> Table:  # noqa: ANN001
    table = Table("name", "qty", "place", "consume by", "days", "id")
    for name, qty, place, by, days, item_id in rows:
        table.add_row(name, qty, place, by, days, item_id)
    return table


def _show(user: str, household: str | None, *, soon: int | None) -> None:
    from boda.apps.pantry import service
    from boda.apps.pantry.settings import pantry_settings
    from boda.core.auth import Scope
    from boda.core.errors import BodaError

    runtime, find_user, username, household_id = _context(user, household)
    try:
        with runtime.db.session() as session:
            scope = Scope.of(find_user(session, username))
            hid = service.household_for(session, scope, household_id)
            places = {p.id: p.name for p in service.list_places(session, scope, hid)}
            if soon is None:
                rows = service.stock(session, scope, hid)
            else:
                within = soon if soon >= 0 else pantry_settings(runtime.settings).use_soon_days
                rows = service.use_soon(session, scope, hid, within_days=within)
            console.print(_table([(s.item.name, f"{s.item.quantity:g}{s.item.unit}",
                                   places.get(s.item.place_id or "", "–"),
                                   s.item.consume_by.date().isoformat() if s.item.consume_by else "–",
                                   _days(s.days_left), s.item.id) for s in rows]))
            if not rows:
                console.print("Nothing here." if soon is None else "Nothing to use soon.")
    except BodaError as exc:
        _fail(exc.message)


@cli.command("list")
def list_command(user: UserOption, household: HouseholdOption = None) -> None:
    """Everything in stock, soonest consume-by first."""
    _show(user, household, soon=None)


@cli.command("use-soon")
def use_soon_command(user: UserOption, household: HouseholdOption = None,
                     days: Annotated[int, typer.Option(help="Within this many days (default: the setting).")] = -1,
                     ) -> None:
    """What to eat first: due within the days or already past."""
    _show(user, household, soon=days)


@cli.command("cook")
def cook_command(user: UserOption, household: HouseholdOption = None,
                 limit: Annotated[int, typer.Option(min=1, max=100, help="How many recipes.")] = 10,
                 exclude: Annotated[list[str] | None, typer.Option(help="A recipe title to leave out.")] = None,
                 ) -> None:
    """What can I cook: recipes ranked by how much is in stock, what spoils soonest first (no LLM)."""
    from boda.apps.pantry import recipes_service, service
    from boda.core.auth import Scope
    from boda.core.errors import BodaError

    runtime, find_user, username, household_id = _context(user, household)
    try:
        with runtime.db.session() as session:
            scope = Scope.of(find_user(session, username))
            hid = service.household_for(session, scope, household_id)
            found = recipes_service.cook_list(session, scope, hid, limit=limit, exclude=exclude or ())
            for f in found:  # one line a recipe: titles stay whole in a narrow terminal
                r = f.ranked
                missing = f"; missing: {', '.join(r.missing[:5])}" if r and r.missing else ""
                link = f" <{f.url}>" if f.url else ""
                console.print(f"{r.coverage if r else 0:4.0%}  {f.title} [{f.source}]{missing}{link}",
                              soft_wrap=True, highlight=False, markup=False)
            if not found:
                console.print("Nothing matches what is in stock.")
            elif any(f.source == "corpus" for f in found):
                from boda.apps.pantry.corpus import ATTRIBUTION, LICENSE_URL

                console.print(f"Corpus recipes: {ATTRIBUTION} ({LICENSE_URL})")
    except BodaError as exc:
        _fail(exc.message)


@cli.command("recommend")
def recommend_command(ingredients: Annotated[str, typer.Argument(help="Ingredients, comma-separated: \"양파, 파\".")],
                      exclude: Annotated[list[str] | None, typer.Option(help="A recipe not to propose.")] = None,
                      language: Annotated[str | None, typer.Option(help="ko or en (default: the ingredients')")
                                          ] = None) -> None:
    """Ask the chat model (llm.* settings) for one recipe; prints the seed's JSON."""
    import json

    from boda.ai.llm import run_sync
    from boda.apps.pantry.recipes_recommend import recommend
    from boda.cli import _runtime
    from boda.core.errors import BodaError

    runtime = _runtime()
    names = [x.strip() for x in ingredients.split(",") if x.strip()]
    body: dict[str, object] = {"ingredients": names, "except_recipe": exclude or []}
    if language:
        body["language"] = language
    try:
        result = run_sync(recommend(runtime.ai.chat(), body))
    except BodaError as exc:
        _fail(exc.message)
        return
    console.print_json(json.dumps(result.as_dict(), ensure_ascii=False))


@cli.command("import")
def import_command(file: Annotated[str, typer.Argument(help="A saved recipe page (HTML).")], user: UserOption,
                   url: Annotated[str | None, typer.Option(help="Where the page came from.")] = None) -> None:
    """Import a recipe from a saved page into the user's recipes (private)."""
    from pathlib import Path

    from boda.apps.pantry import recipes_service
    from boda.apps.pantry.recipes_import import scrape
    from boda.core.auth import Scope
    from boda.core.errors import BodaError
    from boda.core.models import Visibility

    runtime, find_user, username, _ = _context(user, None)
    path = Path(file)
    if not path.is_file():
        _fail(f"No file {file}")
    try:
        found = scrape(path.read_bytes(), url)
        with runtime.db.session() as session:
            scope = Scope.of(find_user(session, username))
            recipe = recipes_service.store_import(session, scope, found, visibility=Visibility.private,
                                                  household_id=None)
            unparsed = sum(1 for i in recipe.ingredients if i.get("unparsed"))
            console.print(f"Imported {recipe.title}: {len(recipe.ingredients)} ingredients "
                          f"({unparsed} not parsed), {len(recipe.steps)} steps ({recipe.id})")
    except BodaError as exc:
        _fail(exc.message)


@cli.command("digest")
def digest_command(user: UserOption, household: HouseholdOption = None,
                   email: Annotated[str | None, typer.Option(help="Ask for the daily e-mail at this address.")
                                    ] = None,
                   send: Annotated[bool, typer.Option("--send", help="Mail the user's digest now (once a day).")
                                   ] = False) -> None:
    """Today's digest: past consume-by, due within pantry.digest_days, opened; in the user's language."""
    from boda.apps.pantry import digest, service
    from boda.apps.pantry.schemas import DigestPreferenceIn
    from boda.apps.pantry.settings import pantry_settings
    from boda.core.auth import Scope
    from boda.core.errors import BodaError

    runtime, find_user, username, household_id = _context(user, household)
    try:
        with runtime.db.session() as session:
            account = find_user(session, username)
            user_id = account.id
            saved = digest.get_preference(session, account.id).locale
            locale = next((x for x in (saved, account.locale) if x in ("ko", "en")), runtime.settings.default_locale)
            scope = Scope.of(account)
            hid = service.household_for(session, scope, household_id)
            if email is not None:
                try:
                    DigestPreferenceIn(enabled=True, email=email)
                except ValueError:
                    _fail(f"{email!r} is not an e-mail address")
                digest.set_preference(session, user_id, enabled=True, email=email)
                console.print(f"{username} gets the digest at {email}", markup=False, highlight=False)
            value = digest.household_digest(session, scope, hid, settings=runtime.settings, locale=locale)
            console.print(f"{value.title} {value.day.isoformat()} · {value.household_name}", markup=False,
                          highlight=False)
            console.print(value.summary, markup=False, highlight=False)
            for key, entries in (("expired", value.expired), ("due", value.due), ("opened", value.opened)):
                if entries:
                    console.print(digest.text(locale, f"pantry.digest.{key}", days=value.within_days), markup=False)
                for e in entries:
                    console.print(f"  - {e.name} {e.quantity:g}{e.unit}: {e.text}", markup=False, highlight=False)
        if send:
            result = digest.send_digest(runtime, user_id, digest.today(pantry_settings(runtime.settings)))
            console.print(f"Sent to {result['to']}" if result["sent"] else f"Not sent: {result['reason']}",
                          markup=False, highlight=False)
    except BodaError as exc:
        _fail(exc.message)
