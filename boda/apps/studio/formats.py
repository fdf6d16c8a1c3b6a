"""The 3D file layer: uploads in, a trimesh scene; the canonical GLB out, and every download format.

Why this shape: the studio stores one canonical GLB per model and converts it on demand, so every
path in goes through `load_upload` (which refuses what it cannot read with a 4xx reason and never
reads outside the bytes it was given), and every path out through `convert` (whose results the tests
open again). Pure functions on bytes: the service decides where blobs live.

- GLB, glTF as a zip (with its buffers and textures), OBJ+MTL(+textures) as a zip or a bare .obj,
  STL, PLY: trimesh, with a resolver over the upload's own files only.
- Draco (KHR_draco_mesh_compression) and meshopt (EXT/KHR_meshopt_compression) glTF: decoded here
  (DracoPy, meshopt) into a plain GLB before trimesh reads it; trimesh cannot decode them.
- FBX in and out: Blender's importer and exporter (`bpy`, the `studio-fbx` extra) in a subprocess
  with a time and memory limit: a 400 MB module that is not thread-safe, parsing untrusted input,
  must not be able to take the worker down. Without it, FBX answers 503. (Debian's assimp 5.2.5
  writes FBX files that neither Blender nor assimp itself reads back: measured, not used.)
- USDZ: usd-core (pxr), UsdPreviewSurface with the base colour texture or colour.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
import lzma
import os
import posixpath
import resource
import stat
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import numpy as np
import trimesh
from PIL import Image

from boda.core.errors import BodaError, InvalidInput, PayloadTooLarge, Unavailable, UnsupportedMedia

log = logging.getLogger(__name__)

Format = Literal["glb", "obj", "stl", "ply", "usdz", "fbx"]
FORMATS: tuple[Format, ...] = ("glb", "obj", "stl", "ply", "usdz", "fbx")
UPLOAD_TYPES = (".glb", ".gltf", ".zip", ".obj", ".stl", ".ply", ".fbx")
# What a zip may hold as its model, best first: a glTF names its buffers, an OBJ its MTL.
_MODEL_SUFFIXES = (".gltf", ".glb", ".fbx", ".obj", ".ply", ".stl")
_GLB_MAGIC = b"glTF"
_CHUNK_JSON, _CHUNK_BIN = 0x4E4F534A, 0x004E4942
# glTF extensions trimesh reads, or that a reader may ignore without showing the model wrong.
_READABLE_EXTENSIONS = {
    "KHR_materials_unlit", "KHR_texture_transform", "KHR_materials_emissive_strength", "KHR_materials_ior",
    "KHR_materials_specular", "KHR_materials_transmission", "KHR_materials_volume", "KHR_materials_clearcoat",
    "KHR_materials_sheen", "KHR_materials_pbrSpecularGlossiness", "KHR_materials_variants", "EXT_texture_webp",
    "KHR_mesh_quantization", "KHR_lights_punctual", "KHR_materials_iridescence", "KHR_materials_anisotropy",
}
_DRACO = "KHR_draco_mesh_compression"
_MESHOPT = ("EXT_meshopt_compression", "KHR_meshopt_compression")
_COMPONENT = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}


@dataclass(frozen=True)
class Limits:
    """What one upload may cost; the app fills these from its settings."""

    max_bytes: int = 200 * 1024 * 1024  # the upload as sent
    max_unpacked_bytes: int = 1024 * 1024 * 1024  # a zip's members, and decoded Draco/meshopt data, together
    max_files: int = 1000  # members of a zip
    max_triangles: int = 5_000_000  # in the scene, instances counted
    max_texture_side: int = 8192  # pixels, either side of any texture
    subprocess_seconds: float = 120.0  # FBX through Blender
    subprocess_memory: int = 4 * 1024 * 1024 * 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class MeshStats:
    """What the library shows about a model; instances of one mesh count each time they appear."""

    triangles: int
    vertices: int
    bounds_min: tuple[float, float, float]
    bounds_max: tuple[float, float, float]
    size: tuple[float, float, float]
    watertight: bool
    texture_sizes: tuple[tuple[int, int], ...]
    materials: int

    def as_dict(self) -> dict[str, Any]:
        return {"triangles": self.triangles, "vertices": self.vertices, "bounds_min": list(self.bounds_min),
                "bounds_max": list(self.bounds_max), "size": list(self.size), "watertight": self.watertight,
                "texture_sizes": [list(s) for s in self.texture_sizes], "materials": self.materials}


@dataclass(frozen=True)
class ConvertedFile:
    filename_suffix: str  # ".obj.zip", ".stl", ...: the service puts the model's name before it
    media_type: str
    data: bytes = field(repr=False)


# --- reading -------------------------------------------------------------------------------------


class _MemoryResolver(trimesh.resolvers.Resolver):
    """Resolves the names a model file refers to against the upload's own files, and nothing else.

    Names are taken relative to the model file's folder; one that climbs out of the upload ("../x"),
    is absolute, or is a URL is simply not there, so a hostile glTF or MTL cannot make the loader open
    a file on the server or fetch one.
    """

    def __init__(self, files: dict[str, bytes], base: str = "") -> None:
        self.files = files
        self.base = base
        self._folded = {name.lower(): name for name in files}

    def _find(self, name: str) -> str | None:
        if not isinstance(name, str) or not name or "://" in name or name.startswith(("/", "\\")):
            return None
        name = unquote(name).replace("\\", "/")
        path = posixpath.normpath(posixpath.join(self.base, name))
        if path.startswith("../") or path == ".." or path.startswith("/"):
            return None
        if path in self.files:
            return path
        # Exporters on Windows write names in any case.
        return self._folded.get(path.lower())

    def get(self, name: str) -> bytes:
        found = self._find(name)
        if found is None:
            raise KeyError(name)
        return self.files[found]

    def keys(self) -> Iterable[str]:
        return list(self.files)

    def namespaced(self, namespace: str) -> _MemoryResolver:
        return _MemoryResolver(self.files, posixpath.join(self.base, namespace))

    def write(self, name: str, data: Any) -> None:
        raise KeyError(name)  # an upload is read, never written


def load_upload(filename: str, data: bytes, limits: Limits = DEFAULT_LIMITS) -> trimesh.Scene:
    """An uploaded 3D file as a scene, or an error that says why not (and nothing stored by the caller).

    `filename` chooses the reader by its suffix (the client's name is all there is to go on for OBJ, STL
    and PLY); a zip is recognised by its content. Limits bound the work before it is done where the
    format says its size up front (zip members, PLY headers, compressed glTF counts), and after loading
    for the rest.
    """
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(f"The file is larger than {limits.max_bytes // (1024 * 1024)} MB",
                              key="studio_model_too_large", details={"max_mb": limits.max_bytes // (1024 * 1024)})
    if not data:
        raise InvalidInput("The file is empty", key="studio_model_empty_file")
    suffix = Path(filename or "").suffix.lower()
    if data[:4] == _GLB_MAGIC:  # a GLB says what it is, whatever the client named it
        suffix = ".glb"
    elif data[:18] == b"Kaydara FBX Binary":
        suffix = ".fbx"
    if data[:4] == b"PK\x03\x04" or suffix == ".zip":
        files = _unzip(data, limits)
        name = _main_file(files)
        suffix, body, base = Path(name).suffix.lower(), files[name], posixpath.dirname(name)
    else:
        if suffix not in UPLOAD_TYPES:
            raise UnsupportedMedia(f"3D files must be one of {', '.join(UPLOAD_TYPES)}",
                                   key="studio_model_unsupported_type", details={"types": ", ".join(UPLOAD_TYPES)})
        files, body, base = {}, data, ""
    scene = _load(suffix, body, files, base, limits)
    _check_scene(scene, limits)
    return scene


def _unzip(data: bytes, limits: Limits) -> dict[str, bytes]:
    """A zip's files in memory, refusing path tricks, links and bombs before inflating anything."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInput("The zip file cannot be read", key="studio_model_bad_zip") from exc
    if len(infos) > limits.max_files:
        raise InvalidInput(f"The zip holds more than {limits.max_files} files", key="studio_model_zip_too_many_files",
                           details={"max_files": limits.max_files})
    total = sum(i.file_size for i in infos)
    if total > limits.max_unpacked_bytes:
        raise PayloadTooLarge("The zip unpacks to more than the limit", key="studio_model_zip_too_large",
                              details={"max_mb": limits.max_unpacked_bytes // (1024 * 1024)})
    files: dict[str, bytes] = {}
    budget = limits.max_unpacked_bytes
    for info in infos:
        name = info.filename.replace("\\", "/")
        parts = name.split("/")
        if (name.startswith("/") or ".." in parts or (len(parts[0]) == 2 and parts[0][1] == ":")
                or stat.S_ISLNK(info.external_attr >> 16)):
            raise InvalidInput("The zip holds a file outside its own folder", key="studio_model_zip_unsafe_path",
                               details={"name": info.filename[:200]})
        if parts[0] == "__MACOSX" or parts[-1].startswith("._"):
            continue  # Finder's resource forks, not part of the model
        try:
            with archive.open(info) as member:
                # The header's size is the sender's word: read one byte past it and refuse if it is there.
                content = member.read(min(info.file_size, budget) + 1)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError, zlib.error,
                lzma.LZMAError) as exc:  # a corrupt deflate or LZMA stream is found only while inflating
            raise InvalidInput("The zip file cannot be read", key="studio_model_bad_zip") from exc
        if len(content) > info.file_size or len(content) > budget:
            raise PayloadTooLarge("The zip unpacks to more than the limit", key="studio_model_zip_too_large",
                                  details={"max_mb": limits.max_unpacked_bytes // (1024 * 1024)})
        budget -= len(content)
        files[posixpath.normpath(name)] = content
    return files


def _main_file(files: dict[str, bytes]) -> str:
    for suffix in _MODEL_SUFFIXES:
        found = sorted(n for n in files if n.lower().endswith(suffix))
        if len(found) > 1:
            raise InvalidInput("The zip holds more than one model", key="studio_model_zip_ambiguous",
                               details={"names": ", ".join(found[:5])})
        if found:
            return found[0]
    raise InvalidInput("The zip holds no 3D model (GLB, glTF, OBJ, FBX, PLY or STL)", key="studio_model_zip_no_model")


def _load(suffix: str, body: bytes, files: dict[str, bytes], base: str, limits: Limits) -> trimesh.Scene:
    resolver = _MemoryResolver(files, base)
    if suffix in (".glb", ".gltf"):
        body = _checked_plain_glb(body, suffix, resolver, limits)
        return _trimesh_load(body, "glb", resolver)
    if suffix == ".fbx":
        glb = _blender_convert(body, "fbx-to-glb", limits, siblings=files, base=base)
        return _trimesh_load(glb, "glb", _MemoryResolver({}))
    if suffix == ".ply":
        _check_ply_header(body, limits)
    if suffix == ".stl":
        _check_stl(body, limits)
    return _trimesh_load(body, suffix[1:], resolver)


def _trimesh_load(body: bytes, file_type: str, resolver: trimesh.resolvers.Resolver) -> trimesh.Scene:
    try:
        scene = trimesh.load_scene(io.BytesIO(body), file_type=file_type, resolver=resolver)
    except (MemoryError, RecursionError) as exc:
        raise PayloadTooLarge("The model is too large to read", key="studio_model_unreadable_large") from exc
    except Exception as exc:  # trimesh raises whatever its parsers meet: all mean "not a model we can read"
        log.info("%s model not read", file_type, exc_info=True)  # logged: our own bug would land here too
        raise InvalidInput(f"The file is not a {file_type.upper()} model that can be read",
                           key="studio_model_unreadable", details={"format": file_type.upper()}) from exc
    if not isinstance(scene, trimesh.Scene):
        scene = trimesh.Scene(scene)
    return scene


def _check_ply_header(body: bytes, limits: Limits) -> None:
    """A PLY says its counts in the header: refuse a bomb before numpy allocates for it."""
    head = body[:4096].split(b"end_header", 1)[0]
    for line in head.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == b"element" and words[1] in (b"face", b"vertex"):
            try:
                count = int(words[2])
            except ValueError:
                continue
            if count > limits.max_triangles * (3 if words[1] == b"vertex" else 1):
                raise InvalidInput(f"The model has more than {limits.max_triangles} triangles",
                                   key="studio_model_too_many_triangles",
                                   details={"triangles": count, "max_triangles": limits.max_triangles})


def _check_stl(body: bytes, limits: Limits) -> None:
    if len(body) >= 84 and not body[:5].lower().startswith(b"solid"):
        (count,) = struct.unpack_from("<I", body, 80)
        if len(body) != 84 + 50 * count:  # binary STL is exactly its header, count and 50 bytes a triangle
            raise InvalidInput("The file is not a STL model that can be read", key="studio_model_unreadable",
                               details={"format": "STL"})
        if count > limits.max_triangles:
            raise InvalidInput(f"The model has more than {limits.max_triangles} triangles",
                               key="studio_model_too_many_triangles",
                               details={"triangles": count, "max_triangles": limits.max_triangles})


def _check_scene(scene: trimesh.Scene, limits: Limits) -> None:
    meshes = [g for g in scene.geometry.values() if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    if not meshes:
        raise InvalidInput("The file holds no triangles", key="studio_model_empty")
    triangles = _instanced(scene, lambda g: len(g.faces))
    if triangles > limits.max_triangles:
        raise InvalidInput(f"The model has more than {limits.max_triangles} triangles",
                           key="studio_model_too_many_triangles",
                           details={"triangles": triangles, "max_triangles": limits.max_triangles})
    for w, h in _texture_sizes(scene):
        if max(w, h) > limits.max_texture_side:
            raise InvalidInput(f"A texture is larger than {limits.max_texture_side} pixels a side",
                               key="studio_model_texture_too_large",
                               details={"width": w, "height": h, "max_side": limits.max_texture_side})
    _decode_textures(scene)
    if not np.all(np.isfinite(scene.bounds)):
        raise InvalidInput("The model has coordinates that are not numbers", key="studio_model_not_finite")


def _decode_textures(scene: trimesh.Scene) -> None:
    """Decode every texture now (their sizes were checked first): trimesh opens them lazily, so a cut or
    corrupt image would otherwise fail later, while writing the canonical GLB, as a server error."""
    for material in _materials(scene):
        for image in _images(material):
            try:
                image.load()
            except MemoryError:
                raise
            except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise OSError, SyntaxError, ValueError...
                raise InvalidInput("A texture in the model cannot be read", key="studio_model_bad_texture") from exc


# --- glTF: Draco and meshopt decoded into a plain GLB --------------------------------------------


def _split_glb(body: bytes) -> tuple[dict[str, Any], bytes | None]:
    if len(body) < 20 or body[:4] != _GLB_MAGIC:
        raise InvalidInput("The file is not a GLB model", key="studio_model_unreadable", details={"format": "GLB"})
    _, version, length = struct.unpack_from("<4sII", body, 0)
    if version != 2:
        raise InvalidInput("Only glTF 2.0 models can be read", key="studio_model_gltf_version")
    offset, doc, binary = 12, None, None
    end = min(length, len(body))
    while offset + 8 <= end:
        size, kind = struct.unpack_from("<II", body, offset)
        chunk = body[offset + 8: offset + 8 + size]
        if kind == _CHUNK_JSON and doc is None:
            doc = _json(chunk)
        elif kind == _CHUNK_BIN and binary is None:
            binary = chunk
        offset += 8 + size + (-size % 4)
    if doc is None:
        raise InvalidInput("The file is not a GLB model", key="studio_model_unreadable", details={"format": "GLB"})
    return doc, binary


def _json(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("The file is not a glTF model", key="studio_model_unreadable",
                           details={"format": "glTF"}) from exc
    if not isinstance(doc, dict):
        raise InvalidInput("The file is not a glTF model", key="studio_model_unreadable", details={"format": "glTF"})
    return doc


def _pack_glb(doc: dict[str, Any], binary: bytes) -> bytes:
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    chunks = struct.pack("<II", len(text), _CHUNK_JSON) + text
    if binary:
        chunks += struct.pack("<II", len(binary), _CHUNK_BIN) + binary
    return struct.pack("<4sII", _GLB_MAGIC, 2, 12 + len(chunks)) + chunks


def _checked_plain_glb(body: bytes, suffix: str, resolver: _MemoryResolver, limits: Limits) -> bytes:
    """`_plain_glb`, with a glTF that breaks the spec's types refused as malformed.

    The reader below takes the JSON at its word (a list where the spec says list, an index that exists):
    any other failure while reading it is the upload's fault, so it is one 4xx here, not a check per field.
    """
    try:
        return _plain_glb(body, suffix, resolver, limits)
    except (BodaError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - a wrong type, a missing index, nesting too deep...
        log.info("glTF not read", exc_info=True)  # logged: our own bug would land here too
        raise InvalidInput(f"The 3D file is malformed: {_flaw(exc)}", key="studio_model_unreadable",
                           details={"format": "glTF"}) from exc


def _flaw(exc: Exception) -> str:
    """What is wrong with a glTF, in words, from what reading it raised (never the exception's own text)."""
    if isinstance(exc, RecursionError):
        return "its JSON is nested too deeply"
    if isinstance(exc, (TypeError, AttributeError)):
        return "a glTF field has the wrong type"
    if isinstance(exc, (IndexError, KeyError)):
        return "a glTF index points to nothing"
    return "a glTF value cannot be read"


def _plain_glb(body: bytes, suffix: str, resolver: _MemoryResolver, limits: Limits) -> bytes:
    """The model as a GLB that trimesh can read: compressed data decoded, unsupported needs refused."""
    if suffix == ".glb" or body[:4] == _GLB_MAGIC:
        doc, binary = _split_glb(body)
    else:
        doc, binary = _json(body), None
    if not isinstance(doc.get("asset"), dict) or not str(doc["asset"].get("version", "")).startswith("2"):
        raise InvalidInput("Only glTF 2.0 models can be read", key="studio_model_gltf_version")
    required = set(doc.get("extensionsRequired") or [])
    used = set(doc.get("extensionsUsed") or []) | required
    compressed = bool(used & ({_DRACO, *_MESHOPT})) or _has_normalized(doc)
    unknown = sorted(required - _READABLE_EXTENSIONS - {_DRACO, *_MESHOPT})
    if unknown:
        raise InvalidInput(f"The glTF needs the extension {unknown[0]}, which Boda cannot read",
                           key="studio_model_gltf_extension", details={"extension": unknown[0]})
    if not compressed:
        if suffix == ".glb" or body[:4] == _GLB_MAGIC:
            return body
        # A .gltf with its buffers beside it: embed them so the GLB path below is the only one.
        buffers = _buffers(doc, binary, resolver, limits)
        return _repack(doc, buffers, resolver, limits)
    try:
        buffers = _buffers(doc, binary, resolver, limits)
        budget = [limits.max_unpacked_bytes]
        _decode_meshopt(doc, buffers, budget)
        _decode_draco(doc, buffers, budget, limits)
        _dequantize(doc, buffers, budget)
    except BodaError:
        raise
    except Exception as exc:  # the decoders raise their own types for corrupt data
        raise InvalidInput("The compressed glTF data cannot be decoded", key="studio_model_gltf_compressed") from exc
    for name in (_DRACO, *_MESHOPT):
        for key in ("extensionsUsed", "extensionsRequired"):
            if name in doc.get(key, []):
                doc[key].remove(name)
    return _repack(doc, buffers, resolver, limits)


def _buffers(doc: dict[str, Any], binary: bytes | None, resolver: _MemoryResolver, limits: Limits) -> list[bytes]:
    out = []
    for i, buf in enumerate(doc.get("buffers") or []):
        uri = buf.get("uri")
        ext = buf.get("extensions") or {}
        if uri is None:
            if any(ext.get(name, {}).get("fallback") for name in _MESHOPT):
                out.append(b"")  # a meshopt fallback with no data: every view of it is compressed
            elif i == 0 and binary is not None:
                out.append(binary)
            else:
                raise InvalidInput("The glTF names a buffer it does not hold", key="studio_model_gltf_missing_file",
                                   details={"name": f"buffer {i}"})
        elif uri.startswith("data:"):
            try:
                out.append(base64.b64decode(uri.split(",", 1)[1], validate=False))
            except (IndexError, ValueError) as exc:
                raise InvalidInput("The glTF data cannot be decoded", key="studio_model_gltf_compressed") from exc
        else:
            try:
                out.append(resolver.get(uri))
            except KeyError as exc:
                raise InvalidInput(f"The glTF needs {uri[:100]}, which is not in the upload",
                                   key="studio_model_gltf_missing_file", details={"name": uri[:100]}) from exc
    return out


def _decode_meshopt(doc: dict[str, Any], buffers: list[bytes], budget: list[int]) -> None:
    views = doc.get("bufferViews") or []
    if not any(any(n in (v.get("extensions") or {}) for n in _MESHOPT) for v in views):
        return
    try:
        import meshopt
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise Unavailable("The meshopt decoder is not installed", key="studio_decoder_missing") from exc
    for view in views:
        ext = next(((view.get("extensions") or {}).get(n) for n in _MESHOPT if n in (view.get("extensions") or {})),
                   None)
        if ext is None:
            continue
        count, stride = int(ext["count"]), int(ext["byteStride"])
        if count < 0 or stride <= 0 or count * stride > budget[0]:
            raise ValueError("meshopt view larger than the limit")
        budget[0] -= count * stride
        start = int(ext.get("byteOffset", 0))
        source = buffers[int(ext["buffer"])][start: start + int(ext["byteLength"])]
        mode, filt = ext.get("mode", "ATTRIBUTES"), ext.get("filter", "NONE")
        decoded = meshopt.decode_gltf_buffer(source, count, stride, mode, None if filt == "NONE" else filt)
        buffers.append(np.ascontiguousarray(decoded).tobytes())
        view.pop("extensions", None)
        view.update(buffer=len(buffers) - 1, byteOffset=0, byteLength=count * stride)


def _decode_draco(doc: dict[str, Any], buffers: list[bytes], budget: list[int], limits: Limits) -> None:
    prims = [p for m in doc.get("meshes") or [] for p in m.get("primitives") or []
             if _DRACO in (p.get("extensions") or {})]
    if not prims:
        return
    try:
        import DracoPy
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise Unavailable("The Draco decoder is not installed", key="studio_decoder_missing") from exc
    views, accessors = doc.setdefault("bufferViews", []), doc.setdefault("accessors", [])
    for prim in prims:
        ext = prim["extensions"].pop(_DRACO)
        # The accessors say what the stream will decode to: refuse a bomb before the decoder allocates for it.
        claimed = int(accessors[int(prim["indices"])]["count"]) // 3 if "indices" in prim else 0
        if claimed > limits.max_triangles:
            raise InvalidInput(f"The model has more than {limits.max_triangles} triangles",
                               key="studio_model_too_many_triangles",
                               details={"triangles": claimed, "max_triangles": limits.max_triangles})
        view = views[int(ext["bufferView"])]
        start = int(view.get("byteOffset", 0))
        source = buffers[int(view["buffer"])][start: start + int(view["byteLength"])]
        mesh = DracoPy.decode(source)
        faces = np.asarray(mesh.faces, dtype=np.uint32).reshape(-1)
        if len(faces) // 3 > limits.max_triangles:
            raise InvalidInput(f"The model has more than {limits.max_triangles} triangles",
                               key="studio_model_too_many_triangles",
                               details={"triangles": len(faces) // 3, "max_triangles": limits.max_triangles})
        arrays: dict[str, np.ndarray] = {}
        for name, uid in ext.get("attributes", {}).items():
            attr = mesh.get_attribute_by_unique_id(int(uid))
            if attr is None or name not in prim.get("attributes", {}):
                continue
            accessor = accessors[int(prim["attributes"][name])]
            data = np.asarray(attr["data"])
            if data.ndim == 1:
                data = data.reshape(len(data), -1)
            dtype = _COMPONENT.get(int(accessor.get("componentType", 5126)), np.float32)
            if accessor.get("normalized") and np.issubdtype(data.dtype, np.integer):
                data = data.astype(np.float32) / np.iinfo(data.dtype).max
                accessor["normalized"] = False
                accessor["componentType"] = 5126
            elif dtype == np.float32 or np.issubdtype(data.dtype, np.floating):
                data = data.astype(np.float32)
                accessor["componentType"] = 5126
                accessor.pop("normalized", None)
            else:
                data = data.astype(dtype)
            arrays[str(prim["attributes"][name])] = data
        if "indices" in prim:
            arrays[str(prim["indices"])] = faces
            accessors[int(prim["indices"])]["componentType"] = 5125
        else:
            accessors.append({"componentType": 5125, "count": len(faces), "type": "SCALAR"})
            prim["indices"] = len(accessors) - 1
            arrays[str(prim["indices"])] = faces
        for index, data in arrays.items():
            raw = np.ascontiguousarray(data).tobytes()
            budget[0] -= len(raw)
            if budget[0] < 0:
                raise ValueError("Draco data larger than the limit")
            buffers.append(raw)
            views.append({"buffer": len(buffers) - 1, "byteOffset": 0, "byteLength": len(raw)})
            accessor = accessors[int(index)]
            accessor.update(bufferView=len(views) - 1, byteOffset=0, count=len(data))
        if not prim["extensions"]:
            prim.pop("extensions")


_NORMALIZED_SCALE = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}


def _normalized_accessors(doc: dict[str, Any]) -> set[int]:
    """Accessors of normalized integers that trimesh would read as plain integers (KHR_mesh_quantization's
    texture coordinates and normals, as gltfpack writes them); vertex colours it reads right already."""
    found = set()
    accessors = doc.get("accessors") or []
    for mesh in doc.get("meshes") or []:
        for prim in mesh.get("primitives") or []:
            for name, index in (prim.get("attributes") or {}).items():
                if name.startswith("COLOR_") or not isinstance(index, int) or index >= len(accessors):
                    continue
                accessor = accessors[index]
                if accessor.get("normalized") and accessor.get("componentType") in _NORMALIZED_SCALE:
                    found.add(index)
    return found


def _has_normalized(doc: dict[str, Any]) -> bool:
    return bool(_normalized_accessors(doc))


def _dequantize(doc: dict[str, Any], buffers: list[bytes], budget: list[int]) -> None:
    """Normalized integer attributes as floats, as the glTF spec defines them: max(c / (2^(b-1) - 1), -1)."""
    accessors, views = doc.get("accessors") or [], doc.setdefault("bufferViews", [])
    sizes = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
    for index in sorted(_normalized_accessors(doc)):
        accessor = accessors[index]
        if "bufferView" not in accessor or "sparse" in accessor:
            continue
        kind, width = int(accessor["componentType"]), sizes.get(accessor.get("type"), 0)
        count, dtype = int(accessor["count"]), np.dtype(_COMPONENT[kind])
        view = views[int(accessor["bufferView"])]
        stride = int(view.get("byteStride") or width * dtype.itemsize)
        start = int(view.get("byteOffset", 0)) + int(accessor.get("byteOffset", 0))
        data = buffers[int(view.get("buffer", 0))]
        if width == 0 or count <= 0 or start + (count - 1) * stride + width * dtype.itemsize > len(data):
            raise ValueError("accessor outside its buffer")
        rows = np.lib.stride_tricks.as_strided(np.frombuffer(data, dtype=np.uint8, offset=start),
                                               (count, width * dtype.itemsize), (stride, 1))
        values = np.ascontiguousarray(rows).view(dtype).reshape(count, width).astype(np.float32)
        values = np.maximum(values / _NORMALIZED_SCALE[kind], -1.0)
        raw = values.tobytes()
        budget[0] -= len(raw)
        if budget[0] < 0:
            raise ValueError("dequantized data larger than the limit")
        buffers.append(raw)
        views.append({"buffer": len(buffers) - 1, "byteOffset": 0, "byteLength": len(raw)})
        accessor.update(bufferView=len(views) - 1, byteOffset=0, componentType=5126)
        accessor.pop("normalized")
        for bound in ("min", "max"):
            if bound in accessor:
                accessor[bound] = [max(v / _NORMALIZED_SCALE[kind], -1.0) for v in accessor[bound]]


def _repack(doc: dict[str, Any], buffers: list[bytes], resolver: _MemoryResolver, limits: Limits) -> bytes:
    """All buffers as one GLB binary chunk, images given by name embedded from the upload."""
    parts, offsets, size = [], [], 0
    for data in buffers:
        offsets.append(size)
        pad = -len(data) % 8
        parts += [data, b"\0" * pad]
        size += len(data) + pad
    for view in doc.get("bufferViews") or []:
        view["byteOffset"] = int(view.get("byteOffset", 0)) + offsets[int(view.get("buffer", 0))]
        view["buffer"] = 0
    for image in doc.get("images") or []:
        uri = image.get("uri")
        if not uri or uri.startswith("data:"):
            continue
        try:
            data = resolver.get(uri)
        except KeyError:
            image.pop("uri")  # a missing texture: the model shows without it, as viewers do
            continue
        parts.append(data + b"\0" * (-len(data) % 8))
        doc.setdefault("bufferViews", []).append({"buffer": 0, "byteOffset": size, "byteLength": len(data)})
        size += len(data) + (-len(data) % 8)
        image.pop("uri")
        image["bufferView"] = len(doc["bufferViews"]) - 1
        image.setdefault("mimeType", "image/png" if data[:4] == b"\x89PNG" else "image/jpeg")
    doc["buffers"] = [{"byteLength": size}] if size else []
    if size > limits.max_unpacked_bytes:
        raise PayloadTooLarge("The model unpacks to more than the limit", key="studio_model_zip_too_large",
                              details={"max_mb": limits.max_unpacked_bytes // (1024 * 1024)})
    return _pack_glb(doc, b"".join(parts))


# --- stats ---------------------------------------------------------------------------------------


def _instanced(scene: trimesh.Scene, count) -> int:
    total = 0
    for node in scene.graph.nodes_geometry:
        _, name = scene.graph[node]
        geometry = scene.geometry.get(name)
        if isinstance(geometry, trimesh.Trimesh):
            total += count(geometry)
    return total


def _materials(scene: trimesh.Scene) -> list[Any]:
    seen: dict[int, Any] = {}
    for geometry in scene.geometry.values():
        material = getattr(getattr(geometry, "visual", None), "material", None)
        if material is not None:
            seen.setdefault(id(material), material)
    return list(seen.values())


def _images(material: Any) -> list[Image.Image]:
    names = ("baseColorTexture", "metallicRoughnessTexture", "normalTexture", "emissiveTexture",
             "occlusionTexture", "image")
    return [img for n in names if isinstance(img := getattr(material, n, None), Image.Image)]


def _texture_sizes(scene: trimesh.Scene) -> list[tuple[int, int]]:
    seen: dict[int, tuple[int, int]] = {}
    for material in _materials(scene):
        for image in _images(material):
            seen.setdefault(id(image), image.size)
    return list(seen.values())


def stats(scene: trimesh.Scene) -> MeshStats:
    """Triangles, bounds and the rest for the library; watertight only if every mesh is closed."""
    meshes = [g for g in scene.geometry.values() if isinstance(g, trimesh.Trimesh)]
    bounds = scene.bounds if meshes else np.zeros((2, 3))
    lo, hi = (tuple(round(float(v), 6) for v in row) for row in bounds)
    return MeshStats(
        triangles=_instanced(scene, lambda g: len(g.faces)),
        vertices=_instanced(scene, lambda g: len(g.vertices)),
        bounds_min=lo, bounds_max=hi,
        size=tuple(round(b - a, 6) for a, b in zip(lo, hi, strict=True)),
        watertight=bool(meshes) and all(m.is_watertight for m in meshes),
        texture_sizes=tuple(sorted(_texture_sizes(scene), reverse=True)),
        materials=len(_materials(scene)),
    )


# --- writing -------------------------------------------------------------------------------------


def to_glb(scene: trimesh.Scene) -> bytes:
    """The canonical form: one binary glTF with its textures inside."""
    return bytes(scene.export(file_type="glb"))


def read_glb(glb: bytes) -> trimesh.Scene:
    """A stored GLB back as a scene (the canonical blob was written by `to_glb`)."""
    return _trimesh_load(glb, "glb", _MemoryResolver({}))


def convert(glb: bytes, fmt: str) -> ConvertedFile:
    """The canonical GLB in another format, as Blender, Unity and Apple's Quick Look expect to open it."""
    if fmt == "glb":
        return ConvertedFile(".glb", "model/gltf-binary", glb)
    if fmt == "fbx":
        return ConvertedFile(".fbx", "application/octet-stream", export_fbx(glb))
    if fmt not in FORMATS:
        raise InvalidInput(f"Downloads are {', '.join(FORMATS)}", key="studio_format_unknown",
                           details={"formats": ", ".join(FORMATS)})
    scene = read_glb(glb)
    if fmt == "obj":
        return ConvertedFile(".obj.zip", "application/zip", _obj_zip(scene))
    if fmt == "stl":
        return ConvertedFile(".stl", "model/stl", bytes(_merged(scene).export(file_type="stl")))
    if fmt == "ply":
        mesh = _merged(scene, colours=True)
        return ConvertedFile(".ply", "application/x-ply", bytes(mesh.export(file_type="ply")))
    return ConvertedFile(".usdz", "model/vnd.usdz+zip", _usdz(scene))


def _merged(scene: trimesh.Scene, colours: bool = False) -> trimesh.Trimesh:
    """One mesh in world space; with colours, textures and materials baked to vertex colours (PLY has no materials)."""
    meshes = [m for m in scene.dump() if isinstance(m, trimesh.Trimesh) and len(m.faces)]
    if colours:
        for mesh in meshes:
            if mesh.visual.kind == "texture":
                try:
                    mesh.visual = mesh.visual.to_color()
                except Exception:  # a material trimesh cannot bake keeps the default colour
                    mesh.visual = trimesh.visual.ColorVisuals(mesh)
    else:
        meshes = [trimesh.Trimesh(m.vertices, m.faces, process=False) for m in meshes]
    return trimesh.util.concatenate(meshes)


def _has_uv(mesh: trimesh.Trimesh) -> bool:
    uv = getattr(mesh.visual, "uv", None)
    return uv is not None and len(uv) == len(mesh.vertices)


def _obj_zip(scene: trimesh.Scene) -> bytes:
    """OBJ + MTL + textures. Colours kept per face or vertex become a small palette texture: Blender and
    Unity show an OBJ's material, not vertex colours."""
    meshes = [m.copy() for m in scene.dump() if isinstance(m, trimesh.Trimesh) and len(m.faces)]
    for mesh in meshes:
        if getattr(mesh.visual, "kind", None) in ("face", "vertex"):
            mesh.visual = mesh.visual.to_texture()
    if any(_has_uv(m) for m in meshes):
        # trimesh numbers texture coordinates as it numbers vertices: a mesh without them among meshes with
        # them would shift every later index (Blender then drops those faces). Give it coordinates and its
        # colour as a material.
        for mesh in meshes:
            if not _has_uv(mesh):
                colour = np.asarray(base_colour(mesh)[0], dtype=float)
                colour = colour.mean(axis=0) if colour.ndim == 2 else colour
                factor = np.clip(np.round(np.append(colour[:3], 1.0) * 255), 0, 255).astype(np.uint8)
                material = trimesh.visual.material.PBRMaterial(baseColorFactor=factor)
                mesh.visual = trimesh.visual.TextureVisuals(uv=np.zeros((len(mesh.vertices), 2)), material=material)
    text, textures = trimesh.exchange.obj.export_obj(trimesh.Scene(meshes), include_normals=True,
                                                      return_texture=True, mtl_name="model.mtl", header=None)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.obj", text)
        for name, data in textures.items():
            archive.writestr(posixpath.basename(name), data)
    return out.getvalue()


def _usdz(scene: trimesh.Scene) -> bytes:
    """A USDZ with one UsdGeom.Mesh per instance and a UsdPreviewSurface each, base colour kept."""
    from pxr import Gf, Sdf, Usd, UsdGeom, UsdShade, UsdUtils, Vt

    with tempfile.TemporaryDirectory(prefix="boda-usdz-") as tmp:
        root = Path(tmp)
        usdc = root / "model.usdc"
        stage = Usd.Stage.CreateNew(str(usdc))
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)  # glTF is Y-up, in metres
        UsdGeom.SetStageMetersPerUnit(stage, 1.0)
        world = UsdGeom.Xform.Define(stage, "/Model")
        stage.SetDefaultPrim(world.GetPrim())
        textures: dict[int, str] = {}
        for i, mesh in enumerate(m for m in scene.dump() if isinstance(m, trimesh.Trimesh) and len(m.faces)):
            prim = UsdGeom.Mesh.Define(stage, f"/Model/mesh_{i}")
            prim.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(np.asarray(mesh.vertices, dtype=np.float32)))
            prim.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(mesh.faces), 3, dtype=np.int32)))
            prim.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(np.asarray(mesh.faces, dtype=np.int32).ravel()))
            prim.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(np.asarray(mesh.vertex_normals, dtype=np.float32)))
            prim.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
            prim.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
            prim.CreateExtentAttr([Gf.Vec3f(*map(float, mesh.bounds[0])), Gf.Vec3f(*map(float, mesh.bounds[1]))])
            material = UsdShade.Material.Define(stage, f"/Model/material_{i}")
            shader = UsdShade.Shader.Define(stage, f"/Model/material_{i}/surface")
            shader.CreateIdAttr("UsdPreviewSurface")
            material.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
            colour, image, roughness, metallic = base_colour(mesh)
            shader.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(roughness)
            shader.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(metallic)
            diffuse = shader.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
            if colour.shape == (3,) or colour.ndim == 1:
                diffuse.Set(Gf.Vec3f(*map(float, colour[:3])))
                if len(colour) > 3 and colour[3] < 1:
                    shader.CreateInput("opacity", Sdf.ValueTypeNames.Float).Set(float(colour[3]))
            else:  # per-vertex colours: displayColor, read by a primvar reader so renderers show it
                api = UsdGeom.PrimvarsAPI(prim)
                api.CreatePrimvar("displayColor", Sdf.ValueTypeNames.Color3fArray, UsdGeom.Tokens.vertex).Set(
                    Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(colour[:, :3], dtype=np.float32)))
                reader = UsdShade.Shader.Define(stage, f"/Model/material_{i}/colours")
                reader.CreateIdAttr("UsdPrimvarReader_float3")
                reader.CreateInput("varname", Sdf.ValueTypeNames.Token).Set("displayColor")
                diffuse.ConnectToSource(reader.ConnectableAPI(), "result")
            uv = getattr(mesh.visual, "uv", None)
            if image is not None and uv is not None and len(uv) == len(mesh.vertices):
                key = id(image)
                if key not in textures:
                    textures[key] = f"textures/texture_{len(textures)}.png"
                    (root / "textures").mkdir(exist_ok=True)
                    image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(root / textures[key])
                api = UsdGeom.PrimvarsAPI(prim)
                api.CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex).Set(
                    Vt.Vec2fArray.FromNumpy(np.ascontiguousarray(uv[:, :2], dtype=np.float32)))
                st = UsdShade.Shader.Define(stage, f"/Model/material_{i}/st")
                st.CreateIdAttr("UsdPrimvarReader_float2")
                st.CreateInput("varname", Sdf.ValueTypeNames.Token).Set("st")
                tex = UsdShade.Shader.Define(stage, f"/Model/material_{i}/baseColor")
                tex.CreateIdAttr("UsdUVTexture")
                tex.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(textures[key])
                tex.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(st.ConnectableAPI(), "result")
                tex.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set("repeat")
                tex.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set("repeat")
                tex.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
                # glTF's base colour factor multiplies the texture: UsdUVTexture's scale does the same.
                tex.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*map(float, _rgba(colour))))
                tex.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
                diffuse.ConnectToSource(tex.ConnectableAPI(), "rgb")
            UsdShade.MaterialBindingAPI.Apply(prim.GetPrim()).Bind(material)
        stage.GetRootLayer().Save()
        usdz = root / "model.usdz"
        if not UsdUtils.CreateNewUsdzPackage(Sdf.AssetPath(str(usdc)), str(usdz)):
            raise Unavailable("The USDZ file could not be written", key="studio_convert_failed",
                              details={"format": "USDZ"})
        return usdz.read_bytes()


def _rgba(colour: np.ndarray) -> tuple[float, float, float, float]:
    c = np.asarray(colour, dtype=float).reshape(-1)
    return (float(c[0]), float(c[1]), float(c[2]), float(c[3]) if len(c) > 3 else 1.0)


def base_colour(mesh: trimesh.Trimesh) -> tuple[np.ndarray, Image.Image | None, float, float]:
    """Linear-ish 0–1 base colour (a vector, or one row per vertex), the texture if any, roughness, metallic."""
    visual = mesh.visual
    if visual.kind == "texture" and getattr(visual, "material", None) is not None:
        material = visual.material
        if isinstance(material, trimesh.visual.material.SimpleMaterial):
            material = material.to_pbr()
        factor = material.baseColorFactor
        colour = np.array([1.0, 1.0, 1.0, 1.0]) if factor is None else np.asarray(factor, dtype=float) / (
            255.0 if np.asarray(factor).dtype.kind in "ui" else 1.0)
        rough = 0.5 if material.roughnessFactor is None else float(material.roughnessFactor)
        metal = 0.0 if material.metallicFactor is None else float(material.metallicFactor)
        image = material.baseColorTexture if isinstance(material.baseColorTexture, Image.Image) else None
        return colour, image, rough, metal
    if visual.kind in ("vertex", "face"):
        colours = np.asarray(visual.vertex_colors, dtype=float) / 255.0
        if np.allclose(colours, colours[0]):
            return colours[0], None, 0.5, 0.0
        return colours, None, 0.5, 0.0
    return np.array([0.8, 0.8, 0.8, 1.0]), None, 0.5, 0.0


# --- FBX ---------------------------------------------------------------------------------------

# Blender's own importers and exporters, run by `bpy` (Blender as a Python module) in a child process:
# FBX is what Blender and Unity users ask for, Blender's FBX is what both open best, and a 400 MB
# module that is not thread-safe belongs in a process of its own that a time and memory limit can end.
_BLENDER_SCRIPT = r"""
import os, sys
import bpy

mode, src, dst = sys.argv[-3:]
folder = os.path.realpath(os.path.dirname(src))
bpy.ops.wm.read_factory_settings(use_empty=True)
if mode == "fbx-to-glb":
    bpy.ops.import_scene.fbx(filepath=src)
    for image in list(bpy.data.images):
        # An FBX may name any path on the server as a texture: keep only the upload's own files.
        path = os.path.realpath(bpy.path.abspath(image.filepath)) if image.filepath else ""
        if image.packed_file is None and not path.startswith(folder + os.sep):
            bpy.data.images.remove(image)
    if not any(o.type == "MESH" for o in bpy.data.objects):
        sys.exit(3)
    bpy.ops.export_scene.gltf(filepath=dst, export_format="GLB", export_yup=True, export_vertex_color="ACTIVE")
else:
    bpy.ops.import_scene.gltf(filepath=src)
    for i, image in enumerate(bpy.data.images):
        # glTF textures arrive packed and nameless: give each a file name in the folder (the FBX names
        # its textures, and Unity looks for them by name), and write it there too.
        if image.packed_file is not None or not image.filepath:
            image.filepath_raw = os.path.join(folder, "texture_%d.png" % i)
            image.file_format = "PNG"
            image.save()
    bpy.ops.export_scene.fbx(filepath=dst, path_mode="COPY", embed_textures=True, axis_forward="-Z", axis_up="Y")
"""


def blender_available() -> bool:
    """Whether `bpy` can be imported (the `studio-fbx` extra); FBX answers 503 without it."""
    try:
        return importlib.util.find_spec("bpy") is not None
    except (ImportError, ValueError):
        return False


def export_fbx(glb: bytes, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The GLB as a binary FBX 7.4, written by Blender's exporter (Y up, textures embedded)."""
    return _blender_convert(glb, "glb-to-fbx", limits)


def _limit_child(memory: int):
    def apply() -> None:  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _blender_convert(data: bytes, mode: str, limits: Limits, *, siblings: dict[str, bytes] | None = None,
                     base: str = "") -> bytes:
    """One file through Blender in a fresh folder that holds only the upload's files."""
    if not blender_available():
        raise Unavailable("FBX needs Blender as a Python module (bpy), which is not installed",
                          key="studio_fbx_unavailable")
    source, target = ("fbx", "glb") if mode == "fbx-to-glb" else ("glb", "fbx")
    with tempfile.TemporaryDirectory(prefix="boda-blender-") as tmp:
        folder = Path(tmp) / "upload"
        for name, content in (siblings or {}).items():  # textures an FBX names beside it (names were checked)
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        src = folder / base / f"input.{source}"
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_bytes(data)
        out = Path(tmp) / f"output.{target}"
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "PYTHONPATH")}
        try:
            done = subprocess.run([sys.executable, "-c", _BLENDER_SCRIPT, mode, str(src), str(out)], cwd=tmp,
                                  capture_output=True, timeout=limits.subprocess_seconds, check=False, env=env,
                                  preexec_fn=_limit_child(limits.subprocess_memory))
        except subprocess.TimeoutExpired as exc:
            raise InvalidInput("The model took too long to convert", key="studio_model_convert_timeout") from exc
        if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            if source == "fbx":
                if done.returncode == 3:
                    raise InvalidInput("The file holds no triangles", key="studio_model_empty")
                raise InvalidInput("The file is not an FBX model that can be read", key="studio_model_unreadable",
                                   details={"format": "FBX"})
            raise Unavailable("The model could not be converted to FBX", key="studio_convert_failed",
                              details={"format": "FBX", "log": done.stderr.decode(errors="replace")[-500:]})
        return out.read_bytes()
