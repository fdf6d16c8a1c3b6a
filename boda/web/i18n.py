"""Korean and English text for the UI, chosen by cookie, account or browser."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request

LOCALES = ("ko", "en")
LANG_COOKIE = "boda_lang"
_DIR = Path(__file__).parent / "locales"


@lru_cache
def catalogue(locale: str) -> dict[str, str]:
    """The core's strings and every app's (`boda/apps/<key>/locales/<locale>.json`)."""
    from boda.core.apps import specs

    folders = [_DIR] + [spec.locales_dir for spec in specs() if spec.locales_dir]
    merged: dict[str, str] = {}
    for folder in folders:
        path = folder / f"{locale}.json"
        if path.is_file():
            merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def translate(locale: str, key: str, **values: object) -> str:
    text = catalogue(locale).get(key) or catalogue("en").get(key) or key
    return text.format(**values) if values else text


def negotiate(accept_language: str, default: str) -> str:
    """The first supported language in the Accept-Language header, by weight."""
    choices: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        lang = tag.split("-")[0].lower()
        if lang in LOCALES:
            choices.append((weight, lang))
    return max(choices, key=lambda c: c[0])[1] if choices else default


def locale_for(request: Request, user_locale: str | None, default: str) -> str:
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LOCALES:
        return cookie
    if user_locale in LOCALES:
        return user_locale  # type: ignore[return-value]
    return negotiate(request.headers.get("accept-language", ""), default)


def text_or(locale: str, key: str | None, args: dict[str, Any] | None, english: str) -> str:
    """A stored key and values in this language; the stored English text when the key is unknown."""
    if not key or (key not in catalogue(locale) and key not in catalogue("en")):
        return english
    try:
        return translate(locale, key, **(args or {}))
    except (KeyError, IndexError, ValueError):
        return english


JobText = Callable[[str | None, dict[str, Any] | None, str], str]


def job_text(request: Request, user_locale: str | None = None) -> JobText:
    """`JobOut.of(row, job_text(request))`: job titles and messages in the caller's language."""
    locale = locale_for(request, user_locale, request.app.state.settings.default_locale)
    return lambda key, args, english: text_or(locale, key, args, english)
