"""A recipe from a saved recipe page's HTML, through `recipe-scrapers` (the library Mealie uses).

`recipe-scrapers` reads schema.org `Recipe` JSON-LD and microdata on any page
(`supported_only=False`) and applies its per-site rules on the sites it knows. It never goes
online here (`online=False`): the caller hands over the HTML, whether a user uploaded a saved
page or the app fetched a URL itself. Fields a page lacks are left empty; a page without a
recipe, or whose recipe has no title or no ingredients, is refused with a clear error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from boda.apps.pantry.recipes_parse import ParsedIngredient, parse
from boda.core.errors import InvalidInput, PayloadTooLarge, Unavailable, UnsupportedMedia

log = logging.getLogger(__name__)

MAX_HTML_BYTES = 8 * 1024 * 1024  # real recipe pages are 0.1–2 MB; a bigger "page" is not one
_PLACEHOLDER_URL = "https://saved-page.invalid/"  # recipe-scrapers needs some URL to choose its rules
_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class ImportedRecipe:
    """What a recipe page says. Times are minutes; `source_url` is where it came from, when known."""

    title: str
    ingredients: tuple[str, ...]
    steps: tuple[str, ...]
    image_url: str | None = None
    yields: str | None = None
    total_minutes: int | None = None
    prep_minutes: int | None = None
    cook_minutes: int | None = None
    source_url: str | None = None
    description: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    parsed: tuple[ParsedIngredient, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """The API's shape: `ingredients` as `[{"text", "name", "amount", "unit", ..., "unparsed"}]`."""
        return {
            "title": self.title,
            "ingredients": [ingredient_dict(p) for p in self.parsed],
            "steps": list(self.steps),
            "image_url": self.image_url, "yields": self.yields, "total_minutes": self.total_minutes,
            "prep_minutes": self.prep_minutes, "cook_minutes": self.cook_minutes, "source_url": self.source_url,
            "description": self.description, "language": self.language, "tags": list(self.tags),
        }


def ingredient_dict(p: ParsedIngredient) -> dict[str, Any]:
    return {"text": p.text, "name": p.name, "amount": p.amount, "amount_max": p.amount_max, "unit": p.unit,
            "note": p.note or None, "vague": p.vague or None, "unparsed": p.unparsed}


def decode_html(data: bytes | str) -> str:
    """Page bytes as text: UTF-8, else the charset the page declares, else CP949 (older Korean sites)."""
    if isinstance(data, str):
        return data
    if len(data) > MAX_HTML_BYTES:
        raise PayloadTooLarge(f"A recipe page may be at most {MAX_HTML_BYTES // (1024 * 1024)} MB",
                              key="pantry_recipe_page_too_large", details={"limit": MAX_HTML_BYTES})
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if (match := _CHARSET.search(data[:4096])) is not None:
        try:
            return data.decode(match.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("cp949")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")


def _field(scraper: Any, name: str) -> Any:
    """One field, or None when the page does not give it (the library raises for that)."""
    try:
        value = getattr(scraper, name)()
    except Exception:  # noqa: BLE001 - recipe-scrapers raises many kinds for "not on this page"
        return None
    return value if value not in ("", [], None) else None


MAX_MINUTES = 60 * 24 * 30  # a month: longer is a page's mistake ("PT99999999999999999999H" overflowed the column)
# The same bounds as a recipe written by hand (recipes_routes.RecipeIn): a page is not a way around them.
MAX_LINES, MAX_LINE, MAX_STEP = 100, 500, 4000


def _minutes(value: Any) -> int | None:
    try:
        minutes = int(value) if value is not None else 0
    except (TypeError, ValueError, OverflowError):
        return None
    return minutes if 0 < minutes <= MAX_MINUTES else None


def _heading_names(node: Any, out: set[str]) -> set[str]:
    """Names of HowToSection and HowToStep objects that are not their text ("Sauce", "Soften")."""
    if isinstance(node, list):
        for item in node:
            _heading_names(item, out)
    elif isinstance(node, dict):
        name = node.get("name")
        if isinstance(name, str) and name.strip() and name.strip() != str(node.get("text", "")).strip():
            out.add(" ".join(name.split()))
        for child in ("itemListElement", "steps"):
            if child in node:
                _heading_names(node[child], out)
    return out


def _steps(scraper: Any) -> list[str]:
    """The steps, without the section and step titles recipe-scrapers flattens in among them."""
    steps = [" ".join(str(s).split()) for s in _field(scraper, "instructions_list") or () if str(s).strip()]
    schema = getattr(getattr(scraper, "schema", None), "data", None)
    if not isinstance(schema, dict):
        return steps
    headings = _heading_names(schema.get("recipeInstructions"), set())
    kept = [s for s in steps if s not in headings]
    return kept or steps


def _tags(scraper: Any) -> tuple[str, ...]:
    tags: list[str] = []
    for name in ("category", "cuisine"):
        value = _field(scraper, name)
        if isinstance(value, str):
            tags += [t.strip() for t in value.split(",")]
    keywords = _field(scraper, "keywords")
    if isinstance(keywords, list):
        tags += [str(k).strip() for k in keywords]
    seen: dict[str, None] = {}
    for tag in tags:
        if tag and tag.lower() not in {t.lower() for t in seen}:
            seen[tag] = None
    return tuple(seen)[:20]


def _scraper(text: str, url: str) -> Any:
    from recipe_scrapers import scrape_html
    from recipe_scrapers._exceptions import RecipeScrapersExceptions

    try:
        return scrape_html(text, org_url=url, supported_only=False)
    except RecipeScrapersExceptions:
        return None


def _ingredients(scraper: Any) -> list[str]:
    return [str(x).strip() for x in _field(scraper, "ingredients") or () if str(x).strip()]


def _complete(scraper: Any) -> bool:
    return scraper is not None and bool(_field(scraper, "title")) and bool(_ingredients(scraper))


def check_page(data: bytes) -> None:
    """A saved page as uploaded: at most MAX_HTML_BYTES (read one byte more to know), and text, not binary."""
    if len(data) > MAX_HTML_BYTES:
        raise PayloadTooLarge(f"A recipe page may be at most {MAX_HTML_BYTES // (1024 * 1024)} MB",
                              key="pantry_recipe_page_too_large", details={"limit": MAX_HTML_BYTES})
    if b"\x00" in data[:4096]:
        raise UnsupportedMedia("This file is not a web page (HTML)", key="pantry_recipe_not_html")


def scrape(html: bytes | str, url: str | None = None) -> ImportedRecipe:
    """The recipe on a page. InvalidInput when the page holds none, or one without a title or ingredients.

    A parser's own failure on a hostile page (recipe-scrapers raises TypeError for `"@type": 5`)
    is "no recipe in this page" too.
    """
    try:
        return _scrape(html, url)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError):
        log.info("recipe page not read (%s)", url or "a saved page", exc_info=True)  # our bug would show here too
        raise InvalidInput("This page holds no recipe that could be read (no schema.org Recipe found)",
                           key="pantry_recipe_not_in_page") from None


def _scrape(html: bytes | str, url: str | None) -> ImportedRecipe:
    text = decode_html(html)
    scraper = _scraper(text, url or _PLACEHOLDER_URL)
    if url and not _complete(scraper):
        # The site's own reader is picked by the URL's host; a saved page given the wrong address
        # (or a site that changed its layout) is still read by the generic schema.org reader.
        scraper = _scraper(text, _PLACEHOLDER_URL) or scraper
    if scraper is None:
        raise InvalidInput("This page holds no recipe that could be read (no schema.org Recipe found)",
                           key="pantry_recipe_not_in_page")
    title = _field(scraper, "title")
    ingredients = [line[:MAX_LINE] for line in _ingredients(scraper)[:MAX_LINES]]
    if not title or not ingredients:
        raise InvalidInput("The recipe on this page has no title or no ingredients",
                           key="pantry_recipe_incomplete", details={"title": bool(title),
                                                                    "ingredients": len(ingredients)})
    steps = [step[:MAX_STEP] for step in _steps(scraper)[:MAX_LINES]]
    image = _field(scraper, "image")
    canonical = _field(scraper, "canonical_url")
    source = url or (canonical if isinstance(canonical, str) and canonical != _PLACEHOLDER_URL else None)
    language = _field(scraper, "language")
    return ImportedRecipe(
        title=str(title).strip(),
        ingredients=tuple(ingredients),
        steps=tuple(steps),
        image_url=image if isinstance(image, str) and image.startswith(("http://", "https://")) else None,
        yields=str(_field(scraper, "yields")) if _field(scraper, "yields") else None,
        total_minutes=_minutes(_field(scraper, "total_time")),
        prep_minutes=_minutes(_field(scraper, "prep_time")),
        cook_minutes=_minutes(_field(scraper, "cook_time")),
        source_url=source,
        description=_field(scraper, "description"),
        language=str(language).split("-")[0].lower() if language else None,
        tags=_tags(scraper),
        parsed=tuple(parse(line) for line in ingredients),
    )


# --- fetching a page (for users whose Boda reaches the internet) -------------------------------

MAX_REDIRECTS = 5
USER_AGENT = "Boda/0.1 (self-hosted; recipe import)"


def _invalid_url() -> InvalidInput:
    return InvalidInput("Give an http or https address of a recipe page", key="pantry_recipe_url_invalid")


async def _public_host(url: str, allow_private: bool) -> None:
    """Refuse URLs that are not http(s), and, unless allowed, hosts inside the server's own network.

    A household member must not make the server read its own admin pages or the LAN (SSRF).
    Checked on every redirect hop. (A DNS answer that changes between this check and the
    connection is not covered; an operator who fears that can keep `allow_private` off and put
    Boda behind an egress proxy.)
    """
    invalid = _invalid_url()
    try:  # "http://[::1/" and a port of 99999 raise here; a 64-letter label in IDNA encoding below
        parts = urlsplit(url)
        port = parts.port or 443
        if parts.scheme not in ("http", "https") or not parts.hostname or "\x00" in parts.hostname:
            raise invalid
        parts.hostname.encode("idna")
    except (ValueError, UnicodeError):
        raise invalid from None
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError:
        raise Unavailable("The recipe page's host could not be found", key="pantry_recipe_url_unreachable",
                          details={"host": parts.hostname}) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise InvalidInput("That address is inside this server's own network", key="pantry_recipe_url_refused",
                               details={"host": parts.hostname})


async def fetch_html(url: str, *, timeout_seconds: float = 15.0, max_bytes: int = MAX_HTML_BYTES,
                     allow_private: bool = False) -> bytes:
    """A recipe page's bytes, read with limits: http(s) only, public hosts, 5 redirects, `max_bytes`."""
    import httpx

    async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False,
                                 headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.5"}) as client:
        for _ in range(MAX_REDIRECTS + 1):
            await _public_host(url, allow_private)
            try:
                async with client.stream("GET", url) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        raise Unavailable("The recipe page could not be read", key="pantry_recipe_url_failed",
                                          details={"status": response.status_code})
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise PayloadTooLarge("A recipe page may be at most "
                                                  f"{max_bytes // (1024 * 1024)} MB",
                                                  key="pantry_recipe_page_too_large", details={"limit": max_bytes})
                    return bytes(body)
            except httpx.InvalidURL:  # not an HTTPError: a control character in the path, a huge redirect
                raise _invalid_url() from None
            except httpx.HTTPError as exc:
                raise Unavailable("The recipe page could not be reached", key="pantry_recipe_url_unreachable",
                                  details={"error": type(exc).__name__}) from None
    raise Unavailable("The recipe page redirected too many times", key="pantry_recipe_url_failed",
                      details={"redirects": MAX_REDIRECTS})


async def import_url(url: str, *, allow_private: bool = False, timeout_seconds: float = 15.0) -> ImportedRecipe:
    """Fetch a recipe page and read it (`fetch_html` then `scrape`)."""
    return scrape(await fetch_html(url, allow_private=allow_private, timeout_seconds=timeout_seconds), url)
