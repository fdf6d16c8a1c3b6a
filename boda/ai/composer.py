"""The primitive composer: a sentence to a low-fidelity GLB made of boxes, spheres, cylinders, cones, tori, capsules.

3D Studio's offline generator. An LLM (any: a local GGUF works) writes a `Scene` — a
bounded list of primitives with sizes, transforms and PBR colours — as JSON validated
against the pydantic schema below; `build_glb` turns it into a binary glTF with trimesh,
one node per part and one metallic-roughness material per look, so three.js shows its colours.

With no LLM at all, `compose_offline` picks one of a small library of hand-made
primitive templates (`boda.ai.composer_templates`) by meaning, through the multilingual
text encoder Album already uses ("빨간 소방차 장난감" finds the fire truck), and
recolours its main parts from the colour words of the prompt. That answer is labelled
`source="template"`: the shape is a stock one, not made from the sentence.

Either way the result is a toy-like blockout, never a detailed model: `FIDELITY` says so.

Why here and not in the app: it is a generation provider like the Meshy and self-hosted
clients the generator protocol (`boda.ai.generate3d`) chooses between, and needs only
boda/ai pieces (the chat model, the text encoder) and trimesh.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from boda.ai.llm import ChatModel
from boda.core.errors import InvalidInput

if TYPE_CHECKING:
    import trimesh

    from boda.ai.embed import TextEncoder
    from boda.ai.registry import Providers

FIDELITY = "low"
DESCRIPTION = ("Primitive composer: a blockout of simple shapes (boxes, spheres, cylinders, cones, tori, capsules) "
               "with flat PBR colours; fast and offline, but low fidelity: no detailed geometry or textures.")

MAX_PARTS = 64
MAX_SIZE = 50.0  # scene units (metres, glTF's unit), per axis of a part
MAX_OFFSET = 100.0  # how far a part's centre may be from the origin
MIN_SIZE = 0.005
# Below these cosines the nearest template is a guess (`TemplateMatch.weak`). Each encoder has its own scale (e5's
# cosines crowd near 0.8), so each has its own line, set by hand on 24 requests that have a template and 15 that have
# none ("a dragon", "스마트폰", "햄버거", ...). With use-m the right matches scored 0.61-1.0 and the others up to 0.55
# (save "a castle made of candy" -> the tower, 0.63); with use-m+e5-small 0.75-1.0 against up to 0.69. Four of the 24
# (sunflower, fighter jet, sports car, pickup) only matched after their words were added to the phrases: small sample.
WEAK_MATCH = {"use-m": 0.56, "use-m+e5-small": 0.70, "e5-small": 0.86}
MAX_PROMPT = 2000

Shape = Literal["box", "sphere", "cylinder", "cone", "torus", "capsule"]
SHAPES: tuple[str, ...] = ("box", "sphere", "cylinder", "cone", "torus", "capsule")

# --- colours ------------------------------------------------------------------------------

# Names the LLM (or a template) may use instead of hex, and the colour words of prompts, English and Korean.
COLOURS: dict[str, str] = {
    "red": "#d62828", "dark red": "#8b1a1a", "orange": "#f77f00", "yellow": "#fcbf49", "gold": "#d4af37",
    "green": "#2a9d3f", "dark green": "#1b5e20", "lime": "#8bc34a", "olive": "#6b8e23", "teal": "#008080",
    "cyan": "#00bcd4", "sky blue": "#87ceeb", "light blue": "#90caf9", "blue": "#1e5aa8", "navy": "#1a237e",
    "purple": "#7b2cbf", "violet": "#8f5bd6", "pink": "#f48fb1", "magenta": "#d81b60", "brown": "#7b4a2a",
    "tan": "#d2b48c", "beige": "#e8dcc0", "cream": "#fff3d6", "white": "#f5f5f5", "light grey": "#c8c8c8",
    "grey": "#808080", "gray": "#808080", "dark grey": "#404040", "black": "#1a1a1a", "silver": "#c0c0c8",
    "bronze": "#a0642c", "copper": "#b87333", "wood": "#9c6b3f", "skin": "#f1c27d",
    "빨간": "#d62828", "빨강": "#d62828", "붉은": "#d62828", "주황": "#f77f00", "노란": "#fcbf49", "노랑": "#fcbf49",
    "금색": "#d4af37", "황금": "#d4af37", "초록": "#2a9d3f", "녹색": "#2a9d3f", "연두": "#8bc34a", "청록": "#008080",
    "하늘색": "#87ceeb", "파란": "#1e5aa8", "파랑": "#1e5aa8", "남색": "#1a237e", "보라": "#7b2cbf",
    "분홍": "#f48fb1", "핑크": "#f48fb1", "갈색": "#7b4a2a", "베이지": "#e8dcc0", "흰": "#f5f5f5", "하얀": "#f5f5f5",
    "흰색": "#f5f5f5", "회색": "#808080", "검은": "#1a1a1a", "검정": "#1a1a1a", "까만": "#1a1a1a", "은색": "#c0c0c8",
    "구리": "#b87333",
    # loanwords Korean speakers use as often: 레드 카, 실버 로봇
    "레드": "#d62828", "오렌지": "#f77f00", "옐로": "#fcbf49", "옐로우": "#fcbf49", "골드": "#d4af37",
    "그린": "#2a9d3f", "블루": "#1e5aa8", "네이비": "#1a237e", "퍼플": "#7b2cbf", "브라운": "#7b4a2a",
    "화이트": "#f5f5f5", "그레이": "#808080", "블랙": "#1a1a1a", "실버": "#c0c0c8",
}
_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_ENGLISH = [name for name in COLOURS if name.isascii()]
_KOREAN = [name for name in COLOURS if not name.isascii()]
# Longest first, so "sky blue" wins over "blue"; English as whole words, Korean anywhere (particles attach).
_COLOUR_WORDS = re.compile("|".join([rf"\b{re.escape(n)}\b" for n in sorted(_ENGLISH, key=len, reverse=True)]
                                    + [re.escape(n) for n in sorted(_KOREAN, key=len, reverse=True)]),
                           re.IGNORECASE)


def colour_hex(value: str) -> str:
    """`#rrggbb` for a hex colour (`#rgb`, `rrggbb`, ...) or a colour name; ValueError otherwise."""
    text = value.strip().lower()
    if match := _HEX.match(text):
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return f"#{digits}"
    named = COLOURS.get(text) or COLOURS.get(text.replace("-", " ").replace("_", " "))
    if named is None:
        raise ValueError(f"{value!r} is not a colour: use #rrggbb or a common colour name")
    return named


def linear_rgba(hex_colour: str) -> list[float]:
    """glTF's baseColorFactor is linear; colours people name are sRGB: convert, so the viewer shows the colour named."""
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    return [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels] + [1.0]


def colour_words(text: str) -> list[str]:
    """The colours a prompt names, in order, as `#rrggbb` ("빨간 소방차" -> ["#d62828"])."""
    return [COLOURS[m.group(0).lower()] for m in _COLOUR_WORDS.finditer(text)]


def without_colour_words(text: str) -> str:
    return " ".join(_COLOUR_WORDS.sub(" ", text).split())


# --- the scene schema ---------------------------------------------------------------------

Size = Annotated[float, Field(ge=MIN_SIZE, le=MAX_SIZE)]
Offset = Annotated[float, Field(ge=-MAX_OFFSET, le=MAX_OFFSET)]
Angle = Annotated[float, Field(ge=-360, le=360)]


class Part(BaseModel):
    """One primitive. Every shape is fitted into the box `size` (x, y, z), centred on `position`, Y up.

    Round shapes stand along Y: a cylinder, cone or capsule of size [d, h, d] is d wide and h
    tall (cone tip up); a torus of size [d, t, d] is a ring d across and t thick, lying flat.
    Then `rotation` turns it (degrees about X, then Y, then Z).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40, description="what this part is, e.g. 'front left wheel'")
    shape: Shape
    size: list[Size] = Field(min_length=3, max_length=3, description="width x, height y, depth z of the part")
    position: list[Offset] = Field(min_length=3, max_length=3, description="centre x, y, z; y is up, ground y=0")
    rotation: list[Angle] = Field(min_length=3, max_length=3, description="degrees about x, y, z")
    color: str = Field(min_length=1, max_length=24, description="#rrggbb or a colour name such as 'red'")
    metallic: float = Field(ge=0, le=1, description="0 plastic, wood, paint; 1 bare metal")
    roughness: float = Field(ge=0, le=1, description="0 mirror-smooth, 1 matte")

    @field_validator("color")
    @classmethod
    def _colour(cls, value: str) -> str:
        return colour_hex(value)


class Scene(BaseModel):
    """A 3D model as primitives: what the LLM writes and `build_glb` builds."""

    model_config = ConfigDict(extra="forbid", title="scene")

    title: str = Field(min_length=1, max_length=80, description="a short name for the model")
    parts: list[Part] = Field(min_length=1, max_length=MAX_PARTS)


def scene_schema() -> dict[str, Any]:
    """The JSON schema the LLM is held to (OpenAI strict structured output accepts it)."""
    return Scene.model_json_schema()


# --- asking the LLM -----------------------------------------------------------------------

_EXAMPLE_TABLE = {"title": "wooden table", "parts": [
    {"name": "top", "shape": "box", "size": [1.6, 0.08, 0.9], "position": [0, 0.76, 0], "rotation": [0, 0, 0],
     "color": "#9c6b3f", "metallic": 0, "roughness": 0.7},
    *[{"name": f"leg {i + 1}", "shape": "cylinder", "size": [0.08, 0.72, 0.08], "position": [x, 0.36, z],
       "rotation": [0, 0, 0], "color": "#7b4a2a", "metallic": 0, "roughness": 0.8}
      for i, (x, z) in enumerate([(-0.7, -0.35), (0.7, -0.35), (-0.7, 0.35), (0.7, 0.35)])],
]}
_EXAMPLE_ROCKET = {"title": "toy rocket", "parts": [
    {"name": "body", "shape": "cylinder", "size": [0.6, 2.0, 0.6], "position": [0, 1.3, 0], "rotation": [0, 0, 0],
     "color": "white", "metallic": 0.1, "roughness": 0.4},
    {"name": "nose", "shape": "cone", "size": [0.6, 0.7, 0.6], "position": [0, 2.65, 0], "rotation": [0, 0, 0],
     "color": "red", "metallic": 0.1, "roughness": 0.4},
    {"name": "window", "shape": "torus", "size": [0.3, 0.06, 0.3], "position": [0, 1.8, 0.3],
     "rotation": [90, 0, 0], "color": "silver", "metallic": 0.9, "roughness": 0.2},
    {"name": "fin", "shape": "box", "size": [0.05, 0.5, 0.4], "position": [0, 0.45, 0.45], "rotation": [0, 90, 0],
     "color": "red", "metallic": 0.1, "roughness": 0.4},
]}

def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


SYSTEM_PROMPT = (
    "You build simple 3D models out of primitive shapes for a toy-like preview. Read the user's description "
    "(Korean or English) and answer with one JSON scene: a title and a list of parts. Shapes: box, sphere, "
    "cylinder, cone, torus, capsule. Every part fits in its `size` box [x, y, z] in metres, centred on `position`; "
    "y is up and the model stands on the ground at y = 0, centred on x = 0, z = 0, facing +z. Cylinders, cones "
    "and capsules stand along y (cone tip up); a torus lies flat (size [diameter, thickness, diameter]). "
    "`rotation` is degrees about x, y, z (a wheel is a cylinder rotated 90 about x or z). Colours are #rrggbb or "
    "names; metallic and roughness are 0..1. Use 4 to 40 parts, keep the proportions of the real object, make the "
    "parts touch or overlap so nothing floats, and keep the user's colours and details.\n"
    f"Example: \"나무 식탁\" -> {_compact(_EXAMPLE_TABLE)}\n"
    f"Example: \"a toy rocket\" -> {_compact(_EXAMPLE_ROCKET)}"
)


def _prompt_text(prompt: str) -> str:
    text = " ".join(prompt.split())
    if not text:
        raise InvalidInput("Describe the model to compose", key="studio_prompt_empty")
    if len(text) > MAX_PROMPT:
        raise InvalidInput(f"The description is longer than {MAX_PROMPT} characters",
                           details={"max_chars": MAX_PROMPT}, key="studio_prompt_too_long")
    return text


async def compose_scene(chat: ChatModel, prompt: str, *, temperature: float = 0.3,
                        max_tokens: int = 6000) -> Scene:
    """The LLM's scene for the prompt, validated against `Scene` (one repair try, then `LlmUnavailable`).

    An unavailable or failing model raises its `LlmUnavailable` / `LlmRateLimited`: the caller
    decides whether to fall back to `compose_offline` (only when no LLM is configured, so a
    broken endpoint is reported, not hidden behind a template).
    """
    text = _prompt_text(prompt)
    result = await chat.chat([{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}],
                             json_schema=Scene, temperature=temperature, max_tokens=max_tokens)
    return Scene.model_validate(result.data)


# --- offline: templates chosen by meaning ---------------------------------------------------


@dataclass(frozen=True)
class TemplateMatch:
    key: str
    similarity: float  # cosine between the prompt and the template's best description, -1..1
    scene: Scene
    recoloured: tuple[str, ...] = ()  # the parts given the prompt's colour
    weak: bool = False  # far from every template ("a dragon"): the nearest is shown, and said to be a guess


@dataclass
class _Index:
    keys: list[str]
    vectors: np.ndarray  # (phrases, dim)
    owners: np.ndarray  # template index of each phrase


_indexes: dict[str, _Index] = {}


def _index(encoder: TextEncoder) -> _Index:
    from boda.ai.composer_templates import TEMPLATES

    cached = _indexes.get(encoder.key)
    if cached is None:
        keys = list(TEMPLATES)
        phrases, owners = [], []
        for i, key in enumerate(keys):
            for phrase in TEMPLATES[key].phrases:
                phrases.append(phrase)
                owners.append(i)
        cached = _Index(keys, encoder.encode(phrases, kind="document"), np.asarray(owners))
        _indexes[encoder.key] = cached
    return cached


def rank_templates(prompt: str, encoder: TextEncoder) -> list[tuple[str, float]]:
    """Every template with its similarity to the prompt (colour words left out: they name no shape), best first."""
    index = _index(encoder)
    query = without_colour_words(_prompt_text(prompt)) or _prompt_text(prompt)
    scores = index.vectors @ encoder.encode([query], kind="query")[0]
    best = np.full(len(index.keys), -1.0)
    np.maximum.at(best, index.owners, scores)
    order = np.argsort(-best, kind="stable")
    return [(index.keys[i], float(best[i])) for i in order]


def compose_offline(prompt: str, encoder: TextEncoder) -> TemplateMatch:
    """The template nearest in meaning to the prompt, its main parts recoloured with the first colour named."""
    from boda.ai.composer_templates import TEMPLATES

    key, similarity = rank_templates(prompt, encoder)[0]
    line = WEAK_MATCH.get(encoder.key)  # an encoder not calibrated here never calls its match weak
    weak = line is not None and similarity < line
    template = TEMPLATES[key]
    colours = colour_words(prompt)
    scene = template.scene
    recoloured: tuple[str, ...] = ()
    if colours:
        parts = [p.model_copy(update={"color": colours[0]}) if p.name in template.main else p for p in scene.parts]
        recoloured = tuple(p.name for p in scene.parts if p.name in template.main)
        scene = scene.model_copy(update={"parts": parts})
    return TemplateMatch(key, similarity, scene, recoloured, weak)


# --- together -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Composition:
    """What the composer made, and how: `source` "llm" (a scene written for this prompt) or "template"."""

    scene: Scene
    source: Literal["llm", "template"]
    template: str | None = None
    similarity: float | None = None
    recoloured: tuple[str, ...] = ()
    weak_match: bool = False
    fidelity: str = FIDELITY
    description: str = field(default=DESCRIPTION)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "template": self.template, "similarity": self.similarity,
                "recoloured": list(self.recoloured), "weak_match": self.weak_match,
                "fidelity": self.fidelity, "description": self.description,
                "parts": len(self.scene.parts), "scene": self.scene.model_dump(mode="json")}


async def compose(chat: ChatModel | None, prompt: str, *, encoder: TextEncoder | None = None) -> Composition:
    """A scene from the LLM when one is configured, else a template chosen by `encoder`; errors of a configured LLM
    are raised, never replaced by a template."""
    if chat is not None and chat.available:
        return Composition(await compose_scene(chat, prompt), "llm")
    if encoder is None:
        raise InvalidInput("No LLM is configured and no text encoder was given to choose a template",
                           key="studio_composer_offline")
    match = compose_offline(prompt, encoder)
    return Composition(match.scene, "template", match.key, round(match.similarity, 4), match.recoloured, match.weak)


class PrimitiveComposer:
    """The composer as a generator: a prompt to GLB bytes, with how it was made.

    `encoder` may be a callable that makes one: the text encoder (tens of MB) is then loaded
    only the first time there is no LLM to ask.
    """

    name = "composer"
    fidelity = FIDELITY
    description = DESCRIPTION

    def __init__(self, chat: ChatModel | None, encoder: TextEncoder | Callable[[], TextEncoder] | None = None) -> None:
        self.chat = chat
        self._encoder = encoder

    @classmethod
    def from_providers(cls, providers: Providers) -> PrimitiveComposer:
        """The configured chat model (`llm.provider`) and text encoder (`ai.text_encoder`) of this process."""
        return cls(providers.chat(), lambda: providers.get("text_encoder"))

    @property
    def encoder(self) -> TextEncoder | None:
        if callable(self._encoder) and not hasattr(self._encoder, "encode"):
            self._encoder = self._encoder()
        return self._encoder  # type: ignore[return-value]

    async def generate(self, prompt: str) -> tuple[Composition, bytes]:
        offline = self.chat is None or not self.chat.available
        composition = await compose(self.chat, prompt, encoder=self.encoder if offline else None)
        return composition, build_glb(composition.scene)


# --- building the GLB ------------------------------------------------------------------------

_SECTIONS = 32
_CREASE = math.radians(40)  # edges sharper than this stay sharp (box edges, cylinder rims); rounder ones are smoothed


def _proportion(shape: str, size: Sequence[float]) -> float:
    """The one proportion a shape's mesh depends on before scaling (the rest is a stretch), rounded for the cache."""
    x, y, z = size
    d = max(x, z)
    if shape == "torus":  # tube thickness / ring diameter
        return max(0.01, round(min(y, d / 2.2) / d, 2))
    if shape == "capsule":  # height / diameter: how long the straight part is
        return min(20.0, round(max(y / d, 1.0), 2))
    return 0.0


@lru_cache(maxsize=512)
def _unit_mesh(shape: str, proportion: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices in the unit cube (centred, Y up), faces and crease-aware vertex normals of one shape, built once."""
    import trimesh

    if shape == "box":
        mesh = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    elif shape == "sphere":
        mesh = trimesh.creation.uv_sphere(radius=0.5, count=(_SECTIONS // 2, _SECTIONS))
    elif shape == "torus":  # a ring in XZ once turned to Y up, tube `proportion` of the diameter thick
        minor = 0.5 * proportion
        major = max(0.5 - minor, minor * 1.05)
        mesh = trimesh.creation.torus(major_radius=major, minor_radius=minor, major_sections=_SECTIONS,
                                      minor_sections=_SECTIONS // 2)
    elif shape == "cylinder":
        mesh = trimesh.creation.cylinder(radius=0.5, height=1.0, sections=_SECTIONS)
    elif shape == "cone":
        mesh = trimesh.creation.cone(radius=0.5, height=1.0, sections=_SECTIONS)
    elif shape == "capsule":  # keep the caps round: the straight part is what the height leaves
        mesh = trimesh.creation.capsule(height=proportion - 1.0, radius=0.5, count=(_SECTIONS, _SECTIONS))
    else:
        raise InvalidInput(f"Unknown shape {shape!r}", details={"shapes": list(SHAPES)})
    if shape != "box":  # trimesh builds round shapes along Z; glTF is Y up: turn Z to Y (-90 degrees about X)
        mesh.apply_transform(trimesh.transformations.rotation_matrix(-math.pi / 2, (1, 0, 0)))
    mesh.apply_translation(-mesh.bounds.mean(axis=0))
    mesh.apply_scale(1.0 / mesh.extents)
    shaded = trimesh.graph.smooth_shade(mesh, angle=_CREASE, facet_minarea=None)
    vertices = np.asarray(shaded.vertices, np.float64)
    faces = np.asarray(shaded.faces, np.int64)
    normals = np.asarray(shaded.vertex_normals, np.float64)
    for array in (vertices, faces, normals):
        array.flags.writeable = False  # shared by every part of this shape
    return vertices, faces, normals


def part_mesh(part: Part) -> trimesh.Trimesh:
    """The part's mesh in its own frame (centred, exactly `size` wide/tall/deep), with its PBR material.

    Stretching a cached unit shape is ~20x faster than building each primitive; the normals are
    stretched by the inverse scale (what keeps them perpendicular to a stretched surface).
    """
    import trimesh
    from trimesh.visual.material import PBRMaterial

    vertices, faces, normals = _unit_mesh(part.shape, _proportion(part.shape, part.size))
    scale = np.asarray(part.size, np.float64)
    stretched = normals / scale
    stretched /= np.maximum(np.linalg.norm(stretched, axis=1, keepdims=True), 1e-12)
    mesh = trimesh.Trimesh(vertices=vertices * scale, faces=faces, vertex_normals=stretched, process=False)
    look = f"{part.color} m{part.metallic:g} r{part.roughness:g}"  # one material per look, shared by its parts
    mesh.visual = trimesh.visual.TextureVisuals(material=PBRMaterial(
        name=look, baseColorFactor=linear_rgba(part.color), metallicFactor=float(part.metallic),
        roughnessFactor=float(part.roughness)))
    return mesh


def part_transform(part: Part) -> np.ndarray:
    """4x4: rotate about X, then Y, then Z (static axes, degrees), then move to `position`."""
    import trimesh

    rx, ry, rz = (math.radians(a) for a in part.rotation)
    matrix = trimesh.transformations.euler_matrix(rx, ry, rz, axes="sxyz")
    matrix[:3, 3] = part.position
    return matrix


def named_parts(scene: Scene) -> list[tuple[str, Part]]:
    """Each part with a unique node name ("wheel", "wheel 2", ...): editors list nodes by name."""
    used: set[str] = set()
    out = []
    for part in scene.parts:
        name, n = part.name, 1
        while name in used:
            n += 1
            name = f"{part.name} {n}"
        used.add(name)
        out.append((name, part))
    return out


def build_scene(scene: Scene) -> trimesh.Scene:
    import trimesh

    out = trimesh.Scene()
    for name, part in named_parts(scene):
        out.add_geometry(part_mesh(part), node_name=name, geom_name=name, transform=part_transform(part))
    return out


def build_glb(scene: Scene, *, ground: bool = True) -> bytes:
    """The scene as binary glTF 2.0: one node and mesh per part, one metallic-roughness material per look.

    `ground` moves the whole model so it stands on y = 0, centred on x = z = 0, as the system
    prompt asks and LLMs do not always do: viewers, thumbnails and turntables then frame it alike.
    """
    built = build_scene(scene)
    if ground:
        low, high = built.bounds
        built.apply_translation([-(low[0] + high[0]) / 2, -low[1], -(low[2] + high[2]) / 2])
    data = bytes(built.export(file_type="glb", include_normals=True))
    return _exact_colours(data, dict(named_parts(scene)))


def _exact_colours(data: bytes, parts: dict[str, Part]) -> bytes:
    """The GLB with each material's baseColorFactor written as the exact linear colour.

    trimesh keeps colours as bytes, which loses dark linear values (#1a1a1a came back as
    #1c1c1c, #050505 as black); the JSON chunk is rewritten with the floats, the binary
    chunk kept as it is.
    """
    magic, version, _ = struct.unpack_from("<4sII", data, 0)
    length, kind = struct.unpack_from("<I4s", data, 12)
    if magic != b"glTF" or version != 2 or kind != b"JSON":
        raise ValueError("not a GLB 2.0 with a JSON chunk")
    gltf = json.loads(data[20:20 + length])
    for mesh in gltf.get("meshes", []):
        part = parts.get(mesh.get("name", ""))
        if part is None:
            continue
        for primitive in mesh.get("primitives", []):
            if "material" in primitive:
                pbr = gltf["materials"][primitive["material"]].setdefault("pbrMetallicRoughness", {})
                pbr["baseColorFactor"] = [round(c, 6) for c in linear_rgba(part.color)]
    text = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)  # chunks are 4-byte aligned; JSON pads with spaces
    rest = data[20 + length:]
    total = 12 + 8 + len(text) + len(rest)
    return struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(text), b"JSON") + text + rest


def read_glb(data: bytes) -> trimesh.Scene:
    """A GLB opened again (tests, stats): the trimesh scene."""
    import trimesh

    loaded = trimesh.load(io.BytesIO(data), file_type="glb", force="scene")
    return loaded
