"""Schemathesis hooks: image parts get real images, as the schema's multipart encoding asks.

A schema can say "image/png" but not "a decodable PNG with something drawn on it";
without these, every random byte string labelled image/png would count as valid
data refused. Loaded by `st run` through schemathesis.toml, and by tests/web/test_fuzz.py.
"""

from __future__ import annotations

import io
from typing import Any

import schemathesis
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from boda.apps.pantry.schemas import MAX_YEAR, MIN_YEAR
from boda.core.uploads import ACCEPTED_TYPES
from tests.conftest import FIXTURES

RECIPE_PAGE = (FIXTURES / "recipes" / "shakshuka.en.html").read_bytes()


def model_glb(size: float) -> bytes:
    """A real GLB (a box): random bytes labelled model/gltf-binary are no model (a 400 by design)."""
    import trimesh

    return bytes(trimesh.creation.box(extents=(size, 1.0, 1.0)).export(file_type="glb"))


@st.composite
def drawings(draw: st.DrawFn, format: str) -> bytes:
    """A small light picture with one dark stroke: a digit reader finds ink, a face detector finds none."""
    width, height = draw(st.integers(16, 96)), draw(st.integers(16, 96))
    image = Image.new("RGB", (width, height), (250, 250, 245))
    x0, x1 = sorted(draw(st.lists(st.integers(0, width - 1), min_size=2, max_size=2)))
    y0, y1 = sorted(draw(st.lists(st.integers(0, height - 1), min_size=2, max_size=2)))
    ImageDraw.Draw(image).line((x0, y0, max(x1, x0 + 4), max(y1, y0 + 8)), fill=(10, 10, 10),
                               width=max(2, min(width, height) // 8))
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


for media_type, fmt in ACCEPTED_TYPES.items():
    schemathesis.openapi.media_type(media_type, drawings(fmt))


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    """A lone value drawn for an array of files goes as a one-file array, with a filename as browsers send it.

    (Schemathesis sends such a value as a plain form field, which no upload route can read as a file.)
    """
    if (isinstance(case.body, dict) and (case.media_type or "").startswith("multipart/")
            and case.operation.path == "/api/v1/pantry/recipes/import" and "file" in case.body):
        # Random bytes are no recipe page (a 400 by design): send a real one, so the import itself is fuzzed.
        case.body["file"] = RECIPE_PAGE
    if (isinstance(case.body, dict) and (case.media_type or "").startswith("multipart/")
            and case.operation.path == "/api/v1/studio/models" and "file" in case.body):
        drawn = case.body["file"]
        size = 1.0 + (len(drawn) % 7 if isinstance(drawn, (bytes, str)) else 0)
        case.body["file"] = model_glb(size)  # so the upload itself is fuzzed
    if isinstance(case.body, dict) and case.operation.path.startswith("/api/v1/pantry/items"):
        # Pantry's dates are kept to the years its schema names in `x-years`, which JSON Schema cannot say.
        for name in ("added_at", "consume_by", "opened_at"):
            value = case.body.get(name)
            if isinstance(value, str) and len(value) >= 4 and value[:4].isdigit():
                case.body[name] = f"{min(max(int(value[:4]), MIN_YEAR + 1), MAX_YEAR - 1):04d}{value[4:]}"
    if isinstance(case.body, dict) and (case.media_type or "").startswith("multipart/"):
        body = case.operation.get_body_for_media_type(case.media_type)
        properties = body.form_properties if body is not None else {}
        for name, value in case.body.items():
            items = (properties.get(name) or {}).get("items") or {}
            if items.get("contentMediaType") == "application/octet-stream" and not isinstance(value, list):
                case.body[name] = [value]
    return case


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    """Drop a case that puts an empty array in a multipart field: on the wire it is the field left out."""
    if not (isinstance(case.body, dict) and (case.media_type or "").startswith("multipart/")):
        return True
    return not any(value == [] for value in case.body.values())


@st.composite
def clips(draw: st.DrawFn, container: str) -> bytes:
    """A tiny real video (1-3 flat frames, no faces) in the container its content type names."""
    from fractions import Fraction

    import av
    import numpy as np

    width, height = draw(st.integers(8, 32)) * 2, draw(st.integers(8, 32)) * 2
    frames, shade = draw(st.integers(1, 3)), draw(st.integers(0, 255))
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream("libvpx" if container == "webm" else "libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), shade, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


for media_type, container in {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm",
                              "video/x-matroska": "matroska"}.items():
    schemathesis.openapi.media_type(media_type, clips(container))


# An object inside a household (a pantry place, an item) goes with the household. Schemathesis knows of
# deletes of the object itself only, so a 404 for an object whose household a step before deleted (or
# the fuzzer left) read as "a resource just created is not found".
_HOUSEHOLD_OF: dict[str, str] = {}  # an object's id -> its household, from the answers that made it
_GONE_HOUSEHOLDS: set[str] = set()  # deleted, or left by the fuzzer
_HOUSEHOLD_ENDS = {("DELETE", "/api/v1/households/{household_id}"), ("POST", "/api/v1/households/{household_id}/leave")}


@schemathesis.hook
def after_call(context: schemathesis.HookContext, case: schemathesis.Case, response: Any) -> None:
    """Remember which household each created object is in, and which households ended for the fuzzer."""
    if not 200 <= response.status_code < 300:
        return
    if (case.method.upper(), case.operation.path) in _HOUSEHOLD_ENDS:
        _GONE_HOUSEHOLDS.add(str((case.path_parameters or {}).get("household_id")))
    elif case.method.upper() == "POST":
        try:
            body = response.json()
        except ValueError:
            return
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            return
        if case.operation.path == "/api/v1/invites/{code}/accept":  # back in a household the fuzzer had left
            _GONE_HOUSEHOLDS.discard(body["id"])
        elif isinstance(body.get("household_id"), str):
            _HOUSEHOLD_OF[body["id"]] = body["household_id"]


@schemathesis.hook
def filter_failure(context: schemathesis.HookContext, failure: Any, case: schemathesis.Case, response: Any) -> bool:
    """Keep every failure but "created resource not found" for an object whose household had ended."""
    if type(failure).__name__ != "EnsureResourceAvailability":
        return True
    return not any(_HOUSEHOLD_OF.get(str(value)) in _GONE_HOUSEHOLDS for value in (case.path_parameters or {}).values())
