"""The OpenAPI document as a contract: short operation ids, every error a route can answer, who may call it.

Statuses are read off each route's dependency tree and signature when the
document is first built, so a new route is documented without touching this
file. What introspection cannot see (a service that says 409 or 503) a route
adds with `responses=errors(409, 503)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi._compat.shared import field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.params import File
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field
from starlette.routing import Match

from boda.web import deps

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BEARER = "bearerAuth"
# Swagger UI and generated clients send this; anonymous access is listed first where a route allows it.
SIGNED_IN: list[dict[str, list[str]]] = [{BEARER: []}]
OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*_[a-z][a-z0-9_]*$")

WHY = {
    400: "Invalid input: the request cannot be read, or a service refused a value",
    401: "Not signed in, or the API token is invalid or revoked",
    403: "Not allowed: administrators only, or a missing CSRF token on a cookie session",
    404: "Not found, or not visible to the caller",
    409: "Conflict with the current state",
    410: "No longer usable: an invitation that was used, declined or has expired",
    413: "Request body, file or image too large",
    415: "Not a file type this route accepts",
    422: "A parameter or the body does not match the schema",
    429: "Too many attempts; wait `retry_after` seconds",
    503: "A model, the queue or another dependency is unavailable; try again later",
}


ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine code, e.g. `not_found`, `invalid_input`.")
    message: str = Field(description="Human message, in the caller's language where translated.")
    details: dict[str, Any] = Field(default_factory=dict, description="Structured context, e.g. limits.")


class ErrorOut(BaseModel):
    """Every error the API answers, whatever its status."""

    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A `responses=` value for statuses a route's signature does not show."""
    return {status: {"description": WHY.get(status, "Error"), "content": {"application/json": {"schema": ERROR_REF}}}
            for status in statuses}


def image_upload(*fields: str) -> dict[str, Any]:
    """An `openapi_extra=` value: these multipart parts must be images of a type core/uploads accepts."""
    from boda.core.uploads import ACCEPTED_TYPES

    types = ", ".join(sorted(ACCEPTED_TYPES))
    encoding = {name: {"contentType": types} for name in fields}
    return {"requestBody": {"content": {"multipart/form-data": {"encoding": encoding}}}}


def operation_id(route: Any) -> str:
    """`<tag>_<function name>`: short and stable, e.g. `vision_get_mnist_sample`."""
    prefix = str(route.tags[0]).lower().replace("-", "_") if route.tags else ""
    return f"{prefix}_{route.name}" if prefix else route.name


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _dependants(child)


def inferred_statuses(route: Any) -> set[int]:
    """The error statuses a route can answer, read off its dependencies and parameters."""
    tree = list(_dependants(route.dependant))
    calls = {d.call for d in tree}
    statuses: set[int] = set()
    if deps._current_user in calls:  # an invalid token is refused even where anonymous callers are welcome
        statuses.add(401)
        if route.methods & UNSAFE_METHODS:
            statuses.add(403)  # CSRF check on cookie sessions
    if deps._require_admin in calls:
        statuses.add(403)
    if any(d.path_params for d in tree):
        statuses.add(404)
    bodies = [f for d in tree for f in d.body_params]
    queries = [f for d in tree for f in d.query_params]
    if bodies or queries:
        statuses.add(400)  # an unreadable body, or a value only the service can judge
    if bodies:
        statuses.add(413)  # BodySizeLimit, and per-upload limits
    if any(isinstance(f.field_info, File) for f in bodies):
        statuses.add(415)
    if bodies or queries or any(d.header_params or d.cookie_params or d.path_params for d in tree):
        statuses.add(422)
    return statuses


def _security(route: Any) -> list[dict[str, list[str]]] | None:
    calls = {d.call for d in _dependants(route.dependant)}
    if deps._require_user in calls or deps._require_admin in calls:
        return SIGNED_IN
    if deps._current_user in calls:
        return [{}, *SIGNED_IN]  # anonymous callers see public objects
    return None


def _error_schemas() -> dict[str, Any]:
    schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"ErrorOut": schema, **schema.pop("$defs")}


def _complete(schema: dict[str, Any], routes: list[Any]) -> None:
    """Add the inferred errors and security to each operation; every error, 422 included, is an ErrorOut."""
    components = schema.setdefault("components", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(name, None)
    components.setdefault("schemas", {}).update(_error_schemas())
    components.setdefault("securitySchemes", {})[BEARER] = {
        "type": "http", "scheme": "bearer",
        "description": "An API token (`boda user token NAME`, or /account in the web UI). The web UI itself "
                       "uses a session cookie, with an X-CSRF-Token header on unsafe methods.",
    }
    for route in routes:
        security = _security(route)
        for method in route.methods:
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in errors(*inferred_statuses(route)).items():
                responses.setdefault(str(status), response)
            if "422" in responses:
                responses["422"] = errors(422)[422]
            if security is not None:
                operation.setdefault("security", security)


def install(app: FastAPI, documenters: Sequence[Callable[[dict[str, Any], Any], None]] = ()) -> None:
    """Build the document once, from every route the app has by then (routes added later included).

    `documenters` (an app's `routes.document(schema, settings)`) adjust what depends on this server,
    such as a range set by the installed data.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, openapi_version=app.openapi_version,
                                 description=app.description, routes=app.routes)
            routes = [ctx for ctx in iter_route_contexts(app.routes)
                      if isinstance(ctx.original_route, APIRoute) and ctx.include_in_schema]
            _complete(schema, routes)
            for document in documenters:
                document(schema, app.state.settings)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def single_values(request: Request) -> None:
    """Refuse a query or form field sent twice where the schema says one value (FastAPI would keep the last)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return
    tree = list(_dependants(route.dependant))
    sources = [(request.query_params, "query", [f for d in tree for f in d.query_params])]
    body_fields = [f for d in tree for f in d.body_params]
    # Only a route that declares form fields has its form read here: one that reads the request itself
    # parses it with its own limits (Starlette keeps the first parse).
    if body_fields and "form" in request.headers.get("content-type", "").lower():  # media types ignore case
        sources.append((await request.form(), "body", body_fields))
    problems = [{"loc": (where, f.alias), "msg": "Expected one value, got several", "type": "repeated_value"}
                for values, where, fields in sources for f in fields
                if not field_annotation_is_sequence(f.field_info.annotation) and len(values.getlist(f.alias)) > 1]
    if problems:
        raise RequestValidationError(problems)


def allowed_methods(app: Any, scope: dict[str, Any]) -> list[str]:
    """Every method some route answers on this path (several routes may share one)."""
    methods: set[str] = set()
    for route in iter_route_contexts(app.router.routes):  # included routers expand to their routes
        match, _ = route.matches(scope)
        if match != Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)

