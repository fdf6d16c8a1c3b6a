"""One error shape for the API, a readable page for browsers."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from boda.core.errors import BodaError

log = logging.getLogger(__name__)

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              408: "request_timeout", 415: "unsupported_media_type", 422: "validation_error",
              429: "rate_limited"}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or request.headers.get("hx-request"):
        return False
    return "text/html" in request.headers.get("accept", "")


def render(request: Request, status: int, code: str, message: str,
           details: dict[str, Any] | None = None) -> Response:
    if _wants_html(request):
        templates = request.app.state.templates
        if status == 401:
            from urllib.parse import quote

            return Response(status_code=303, headers={"location": f"/login?next={quote(request.url.path)}"})
        from boda.web.i18n import LOCALES, locale_for

        locale = locale_for(request, None, request.app.state.settings.default_locale)
        context = {"status": status, "message": message, "locale": locale, "locales": LOCALES,
                   "user": None, "csrf_token": ""}
        return templates.TemplateResponse(request, "error.html", context, status_code=status)
    if request.headers.get("hx-request") and not request.url.path.startswith("/api/"):  # the API answers JSON
        return HTMLResponse(f'<div class="alert error" role="alert">{_escape(message)}</div>',
                            status_code=status)
    return JSONResponse(error_body(code, message, details), status_code=status)


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def localized(request: Request, exc: BodaError) -> str:
    """The message in the caller's language (Accept-Language or the UI's cookie); English keeps its detail."""
    from boda.web.i18n import catalogue, locale_for, translate

    locale = locale_for(request, None, request.app.state.settings.default_locale)
    if locale == "en":
        return exc.message
    name = f"error.{exc.key}"
    if exc.key and name in catalogue(locale):
        try:
            return translate(locale, name, **exc.details)
        except (KeyError, IndexError, ValueError):
            pass
    # No text of its own: the kind of error, in the caller's language, rather than English.
    return catalogue(locale).get(f"error.code.{exc.code}", exc.message)


def _validation_summary(request: Request, english: str, problems: list[dict[str, str]]) -> str:
    """English keeps pydantic's words; other languages get a sentence of their own naming the fields."""
    from boda.web.i18n import catalogue, locale_for, translate

    locale = locale_for(request, None, request.app.state.settings.default_locale)
    if locale == "en" or "error.validation" not in catalogue(locale):
        return english
    fields = ", ".join(dict.fromkeys(p["field"] or "body" for p in problems)) or "-"
    return translate(locale, "error.validation", fields=fields)


def _plain(message: str) -> str:
    """Pydantic's words where they help; where they name Python types, what the sender should do."""
    if "Expected UploadFile" in message:  # a multipart part without a file name arrives as text
        return "a file is required here (the part was sent without a file name)"
    return message


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BodaError)
    async def boda_error(request: Request, exc: BodaError) -> Response:
        response = render(request, exc.status_code, exc.code, localized(request, exc), exc.details)
        if "retry_after" in exc.details:
            response.headers["retry-after"] = str(exc.details["retry_after"])
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
             "message": _plain(err.get("msg", ""))}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "Invalid request"
        return render(request, 422, "validation_error", _validation_summary(request, summary, problems),
                      {"errors": problems})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
        if exc.status_code == 413:
            message = "Request body too large"
        response = render(request, exc.status_code, code, message)
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # Starlette's Allow names one route's methods; a path may have several
            from boda.web.openapi import allowed_methods

            response.headers["allow"] = ", ".join(allowed_methods(request.app, request.scope))
        return response

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError) -> Response:
        """PostgreSQL refuses a NUL character in text (SQLite stores it): the request's fault, a 400.
        Any other DataError is ours until shown otherwise: a 500, logged with its traceback."""
        if "(0x00)" not in str(exc.orig):
            return await unexpected(request, exc)
        log.info("NUL character refused by the database on %s %s", request.method, request.url.path)
        return render(request, 400, "invalid_input", "Text cannot contain NUL characters (\\0)",
                      {"reason": "nul_character"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        from boda.web.middleware import add_security_headers

        log.exception("unhandled error on %s %s", request.method, request.url.path)
        response = render(request, 500, "internal_error", "Something went wrong on our side; it was logged.")
        add_security_headers(response.headers)
        return response


class _BodyTooLarge(Exception):
    """Stops the app once the 413 answer has been sent."""


class BodySizeLimit:
    """Refuse request bodies over the limit, in Boda's error shape.

    A declared Content-Length over the limit is refused before anything is
    read; a body sent without one is counted as it streams in, answered with
    the same 413 once it passes the limit, and the app's own answer dropped.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, scope: Any, receive: Any, send: Any) -> None:
        message = f"Request body too large: the limit is {self.max_bytes / 1024 / 1024:.1f} MB"
        body = error_body("payload_too_large", message, {"limit_bytes": self.max_bytes})
        await JSONResponse(body, status_code=413)(scope, receive, send)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        refused = False

        async def counted() -> Any:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes and not refused:
                refused = True
                await self._refuse(scope, receive, send)
                raise _BodyTooLarge()
            return message

        async def guarded_send(message: Any) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except BaseException:
            if not refused:
                raise


class _BodyTimedOut(Exception):
    """Stops the app once the 408 answer has been sent."""


class BodyReadTimeout:
    """Refuse a request body that stops arriving, in Boda's error shape (uvicorn has no body timeout).

    The deadline is between chunks, so a slow but steady upload passes; once the
    body is complete, `receive` is left alone (it then waits for the disconnect).
    """

    def __init__(self, app: Any, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = started = timed_out = False

        async def timed_receive() -> Any:
            nonlocal body_done, timed_out
            if body_done:
                return await receive()
            try:
                with anyio.fail_after(self.seconds):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                if not started:
                    body = error_body("request_timeout", "The request body stopped arriving; nothing was done",
                                      {"timeout_seconds": self.seconds})
                    await JSONResponse(body, status_code=408, headers={"connection": "close"})(scope, receive, send)
                raise _BodyTimedOut() from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracked_send(message: Any) -> None:
            nonlocal started
            if timed_out:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except BaseException:
            if not timed_out:
                raise
