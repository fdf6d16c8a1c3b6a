"""The studio's 3D file layer: every upload type read, every download written and opened again,
compressed glTF decoded, and every bad upload refused with a reason (and nothing read outside it)."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import DracoPy
import meshopt
import numpy as np
import pytest
import trimesh
from PIL import Image

from boda.apps.studio import formats
from boda.apps.studio.formats import Limits, convert, load_upload, stats, to_glb
from boda.core.errors import BodaError, InvalidInput, PayloadTooLarge, UnsupportedMedia
from boda.web.i18n import catalogue

RED = [200, 30, 30, 255]


def red_box() -> trimesh.Trimesh:
    box = trimesh.creation.box((1.0, 2.0, 3.0))
    box.visual.face_colors = RED
    return box


def texture() -> Image.Image:
    image = Image.new("RGB", (64, 32), (20, 180, 40))
    image.paste((250, 250, 0), (0, 0, 16, 16))
    return image


def textured_quad() -> trimesh.Trimesh:
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=texture(), baseColorFactor=[255, 255, 255, 255])
    visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]], material=material)
    return trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], [[0, 1, 2], [0, 2, 3]],
                           visual=visual, process=False)


def hundred() -> trimesh.Trimesh:
    """A 100-triangle mesh: a 5 x 10 grid of quads, bent so it is not flat."""
    x, y = np.meshgrid(np.linspace(0, 1, 6), np.linspace(0, 2, 11))
    vertices = np.column_stack([x.ravel(), y.ravel(), 0.2 * np.sin(3 * x.ravel())])
    faces = []
    for r in range(10):
        for c in range(5):
            i = r * 6 + c
            faces += [[i, i + 1, i + 7], [i, i + 7, i + 6]]
    return trimesh.Trimesh(vertices, faces, process=False)


def glb_of(*meshes: trimesh.Trimesh) -> bytes:
    return to_glb(trimesh.Scene(list(meshes)))


def zipped(files: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def refused(error: type[BodaError], key: str, filename: str, data: bytes, **limits) -> BodaError:
    with pytest.raises(error) as caught:
        load_upload(filename, data, Limits(**limits) if limits else formats.DEFAULT_LIMITS)
    assert caught.value.key == key, caught.value.key
    assert f"error.{key}" in catalogue("en") or key in _keys("en")
    assert key in _keys("ko")
    return caught.value


def _keys(locale: str) -> set[str]:
    path = Path(formats.__file__).parent / "locales" / f"{locale}.json"
    return {k.removeprefix("error.") for k in json.loads(path.read_text(encoding="utf-8"))}


# --- reading ------------------------------------------------------------------------------------


def test_glb_stats() -> None:
    s = stats(load_upload("box.glb", glb_of(red_box())))
    assert (s.triangles, s.vertices) == (12, 8)
    assert s.size == (1.0, 2.0, 3.0) and s.bounds_min == (-0.5, -1.0, -1.5) and s.bounds_max == (0.5, 1.0, 1.5)
    assert s.watertight and s.texture_sizes == ()
    quad = stats(load_upload("quad.glb", glb_of(textured_quad())))
    assert quad.texture_sizes == ((64, 32),) and quad.materials == 1 and not quad.watertight


def test_instances_are_counted_each_time() -> None:
    scene = trimesh.Scene()
    box = red_box()
    for k in range(3):
        scene.add_geometry(box, geom_name="box", transform=trimesh.transformations.translation_matrix([3 * k, 0, 0]))
    s = stats(load_upload("three.glb", to_glb(scene)))
    assert s.triangles == 36 and s.size[0] == pytest.approx(7.0)
    refused(InvalidInput, "studio_model_too_many_triangles", "three.glb", to_glb(scene), max_triangles=30)


def gltf_files(*meshes: trimesh.Trimesh) -> dict[str, bytes]:
    """A .gltf, its .bin, and its textures as files beside it (trimesh puts them in the .bin)."""
    files = trimesh.Scene(list(meshes)).export(file_type="gltf")
    doc = json.loads(files["model.gltf"])
    for i, image in enumerate(doc.get("images", [])):
        view = doc["bufferViews"][image.pop("bufferView")]
        binary = files[doc["buffers"][view["buffer"]]["uri"]]
        start = view.get("byteOffset", 0)
        files[f"textures/image {i}.png"] = binary[start:start + view["byteLength"]]
        image["uri"] = f"textures/image%20{i}.png"
    files["model.gltf"] = json.dumps(doc).encode()
    return files


def test_gltf_zip_with_buffers_and_textures() -> None:
    files = gltf_files(textured_quad(), hundred())
    assert any(n.endswith(".bin") for n in files) and any(n.endswith(".png") for n in files)
    data = zipped({f"my model/{name}": blob for name, blob in files.items()})
    s = stats(load_upload("model.zip", data))
    assert s.triangles == 102 and s.texture_sizes == ((64, 32),)


def test_gltf_without_its_buffer_names_what_is_missing() -> None:
    files = trimesh.Scene([hundred()]).export(file_type="gltf")
    error = refused(InvalidInput, "studio_model_gltf_missing_file", "model.gltf", files["model.gltf"])
    assert error.details["name"].endswith(".bin")


def test_obj_zip_with_mtl_and_texture_and_bare_obj() -> None:
    obj, extras = trimesh.exchange.obj.export_obj(textured_quad(), return_texture=True, mtl_name="quad.mtl")
    assert "quad.mtl" in extras
    s = stats(load_upload("quad.zip", zipped({"quad.obj": obj, **extras})))
    assert s.triangles == 2 and s.texture_sizes == ((64, 32),)
    bare = trimesh.exchange.obj.export_obj(hundred(), include_texture=False)
    assert stats(load_upload("grid.OBJ", bare.encode())).triangles == 100


@pytest.mark.parametrize("kind", ["stl", "ply"])
def test_stl_and_ply(kind: str) -> None:
    data = hundred().export(file_type=kind)
    s = stats(load_upload(f"grid.{kind}", data))
    assert s.triangles == 100 and s.size[1] == pytest.approx(2.0)


def test_draco_glb_is_decoded() -> None:
    mesh = hundred()
    uv = (mesh.vertices[:, :2] / [1.0, 2.0]).astype(np.float64)
    blob = DracoPy.encode(mesh.vertices, mesh.faces, quantization_bits=16, preserve_order=True,
                          tex_coord=uv, normals=mesh.vertex_normals)
    kinds = {a["attribute_type"]: a["unique_id"] for a in DracoPy.decode(blob).attributes}  # 0 position, 3 uv
    ext = "KHR_draco_mesh_compression"
    n = len(mesh.vertices)
    doc = {
        "asset": {"version": "2.0"}, "extensionsUsed": [ext], "extensionsRequired": [ext],
        "buffers": [{"byteLength": len(blob)}], "bufferViews": [{"buffer": 0, "byteLength": len(blob)}],
        "accessors": [{"componentType": 5126, "count": n, "type": "VEC3",
                       "min": mesh.bounds[0].tolist(), "max": mesh.bounds[1].tolist()},
                      {"componentType": 5125, "count": mesh.faces.size, "type": "SCALAR"},
                      {"componentType": 5126, "count": n, "type": "VEC2"},
                      {"componentType": 5126, "count": n, "type": "VEC3"}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [0.1, 0.2, 0.9, 1.0]}}],
        "meshes": [{"primitives": [{
            "attributes": {"POSITION": 0, "TEXCOORD_0": 2, "NORMAL": 3}, "indices": 1, "material": 0,
            "extensions": {ext: {"bufferView": 0,
                                 "attributes": {"POSITION": kinds[0], "TEXCOORD_0": kinds[3], "NORMAL": kinds[1]}}}}]}],
        "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}], "scene": 0,
    }
    scene = load_upload("draco.glb", formats._pack_glb(doc, blob))
    s = stats(scene)
    assert s.triangles == 100 and s.size == pytest.approx((1.0, 2.0, mesh.extents[2]), abs=1e-3)
    loaded = next(iter(scene.geometry.values()))
    assert np.allclose(loaded.vertices, mesh.vertices, atol=1e-3)  # preserve_order: same vertices, same order
    # The texture coordinates came through their own Draco attribute (trimesh flips v on reading glTF).
    assert np.allclose(loaded.visual.uv[:, 0], uv[:, 0], atol=1e-3)
    assert np.allclose(loaded.visual.uv[:, 1], 1 - uv[:, 1], atol=1e-3)
    # Broken Draco bytes are a 4xx with a reason, not a crash.
    broken = formats._pack_glb(doc, b"\0" * len(blob))
    refused(InvalidInput, "studio_model_gltf_compressed", "draco.glb", broken)
    # Accessors that claim more triangles than the limit are refused before decoding.
    packed = formats._pack_glb(doc, blob)
    refused(InvalidInput, "studio_model_too_many_triangles", "draco.glb", packed, max_triangles=99)
    doc["accessors"][1]["count"] = 3 * 10**9
    refused(InvalidInput, "studio_model_too_many_triangles", "draco.glb", formats._pack_glb(doc, blob))


def test_meshopt_glb_is_decoded() -> None:
    mesh = hundred()
    positions = np.ascontiguousarray(mesh.vertices, dtype=np.float32)
    indices = np.ascontiguousarray(mesh.faces, dtype=np.uint32).ravel()
    vb = meshopt.encode_gltf_buffer(positions, "ATTRIBUTES")
    ib = meshopt.encode_gltf_buffer(indices, "TRIANGLES")
    pad = b"\0" * (-len(vb) % 4)
    ext = "EXT_meshopt_compression"
    n, m = len(positions), len(indices)
    doc = {
        "asset": {"version": "2.0"}, "extensionsUsed": [ext], "extensionsRequired": [ext],
        "buffers": [{"byteLength": len(vb) + len(pad) + len(ib)},
                    {"byteLength": 12 * n + 4 * m, "extensions": {ext: {"fallback": True}}}],
        "bufferViews": [
            {"buffer": 1, "byteLength": 12 * n, "byteStride": 12, "extensions": {ext: {
                "buffer": 0, "byteLength": len(vb), "byteStride": 12, "mode": "ATTRIBUTES", "count": n}}},
            {"buffer": 1, "byteOffset": 12 * n, "byteLength": 4 * m, "extensions": {ext: {
                "buffer": 0, "byteOffset": len(vb) + len(pad), "byteLength": len(ib), "byteStride": 4,
                "mode": "TRIANGLES", "count": m}}}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": n, "type": "VEC3",
                       "min": mesh.bounds[0].tolist(), "max": mesh.bounds[1].tolist()},
                      {"bufferView": 1, "componentType": 5125, "count": m, "type": "SCALAR"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}], "scene": 0,
    }
    scene = load_upload("meshopt.glb", formats._pack_glb(doc, vb + pad + ib))
    assert stats(scene).triangles == 100
    assert np.allclose(np.sort(scene.to_geometry().vertices, axis=0), np.sort(mesh.vertices, axis=0))
    # A count that claims more than the limit is refused before anything is allocated for it.
    doc["bufferViews"][0]["extensions"][ext]["count"] = 10**9
    refused(InvalidInput, "studio_model_gltf_compressed", "meshopt.glb", formats._pack_glb(doc, vb + pad + ib))


# --- refusing -----------------------------------------------------------------------------------


def test_broken_and_wrong_files() -> None:
    glb = glb_of(red_box())
    refused(InvalidInput, "studio_model_unreadable", "cut.glb", glb[: len(glb) // 2])
    png = io.BytesIO()
    texture().save(png, format="PNG")
    refused(InvalidInput, "studio_model_unreadable", "photo.glb", png.getvalue())
    refused(InvalidInput, "studio_model_unreadable", "photo.stl", png.getvalue())
    refused(UnsupportedMedia, "studio_model_unsupported_type", "photo.png", png.getvalue())
    refused(InvalidInput, "studio_model_empty_file", "empty.glb", b"")
    refused(InvalidInput, "studio_model_empty", "nonsense.obj", b"\xff\xfe\x00garbage" * 50)
    refused(InvalidInput, "studio_model_bad_zip", "model.zip", b"PK\x03\x04" + b"\0" * 100)


def test_empty_scene_and_unknown_extension() -> None:
    empty = formats._pack_glb({"asset": {"version": "2.0"}, "scenes": [{"nodes": []}], "scene": 0}, b"")
    refused(InvalidInput, "studio_model_empty", "empty.glb", empty)
    refused(InvalidInput, "studio_model_empty", "empty.obj", b"# nothing\nv 0 0 0\n")
    doc, binary = formats._split_glb(glb_of(red_box()))
    doc["extensionsRequired"] = doc["extensionsUsed"] = ["KHR_texture_basisu"]
    error = refused(InvalidInput, "studio_model_gltf_extension", "basis.glb", formats._pack_glb(doc, binary))
    assert error.details == {"extension": "KHR_texture_basisu"}
    doc["asset"]["version"] = "1.0"
    refused(InvalidInput, "studio_model_gltf_version", "old.glb", formats._pack_glb(doc, binary))


def test_limits() -> None:
    glb = glb_of(hundred())
    refused(PayloadTooLarge, "studio_model_too_large", "grid.glb", glb, max_bytes=len(glb) - 1)
    refused(InvalidInput, "studio_model_too_many_triangles", "grid.glb", glb, max_triangles=99)
    refused(InvalidInput, "studio_model_texture_too_large", "quad.glb", glb_of(textured_quad()), max_texture_side=63)
    # A PLY header that claims a billion faces is refused before numpy allocates for them.
    bomb = b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n" \
           b"property float z\nelement face 1000000000\nproperty list uchar int vertex_indices\nend_header\n"
    refused(InvalidInput, "studio_model_too_many_triangles", "bomb.ply", bomb + b"\0" * 64)
    stl = bytearray(hundred().export(file_type="stl"))
    refused(InvalidInput, "studio_model_too_many_triangles", "grid.stl", bytes(stl), max_triangles=99)
    stl[80:84] = (10**9).to_bytes(4, "little")  # a header that lies about the count
    refused(InvalidInput, "studio_model_unreadable", "bomb.stl", bytes(stl))


def test_zip_tricks(tmp_path: Path) -> None:
    obj = trimesh.exchange.obj.export_obj(hundred(), include_texture=False)
    for name in ("../model.obj", "/etc/model.obj", "a/../../model.obj", "C:/model.obj", "..\\model.obj"):
        error = refused(InvalidInput, "studio_model_zip_unsafe_path", "x.zip", zipped({name: obj}))
        assert error.details["name"] == name
    refused(InvalidInput, "studio_model_zip_ambiguous", "x.zip", zipped({"a.obj": obj, "b/c.obj": obj}))
    refused(InvalidInput, "studio_model_zip_no_model", "x.zip", zipped({"readme.txt": "hello"}))
    refused(InvalidInput, "studio_model_zip_too_many_files", "x.zip",
            zipped({"model.obj": obj, **{f"{i}.txt": "" for i in range(5)}}), max_files=5)
    # A bomb: 50 MB of zeros that zip to about 50 kB, under a 10 MB limit.
    bomb = zipped({"model.obj": obj, "pad.bin": b"\0" * (50 * 1024 * 1024)})
    assert len(bomb) < 200_000
    refused(PayloadTooLarge, "studio_model_zip_too_large", "x.zip", bomb, max_unpacked_bytes=10 * 1024 * 1024)
    # A zip whose header lies about a member's size is caught while inflating, not trusted.
    honest = zipped({"model.obj": obj})
    told = len(obj.encode())
    liar = honest.replace(told.to_bytes(4, "little"), (100).to_bytes(4, "little"))
    with pytest.raises((InvalidInput, PayloadTooLarge)):
        load_upload("x.zip", liar)
    # A link in the zip is refused too.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("model.obj")
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")
    refused(InvalidInput, "studio_model_zip_unsafe_path", "x.zip", out.getvalue())


def test_nothing_outside_the_upload_is_read(tmp_path: Path) -> None:
    """A glTF, an MTL or a texture that names a file on the server gets nothing from it."""
    secret = tmp_path / "secret.bin"
    files = trimesh.Scene([hundred()]).export(file_type="gltf")
    bin_name = next(n for n in files if n.endswith(".bin"))
    secret.write_bytes(files[bin_name])
    doc = json.loads(files["model.gltf"])
    for uri in (str(secret), f"file://{secret}", "../" * 20 + str(secret).lstrip("/"), "../secret.bin"):
        doc["buffers"][0]["uri"] = uri
        refused(InvalidInput, "studio_model_gltf_missing_file", "m.zip",
                zipped({"in/model.gltf": json.dumps(doc)}))
    # An OBJ whose MTL names a texture on the server loads without that texture.
    png = tmp_path / "secret.png"
    texture().save(png)
    obj, extras = trimesh.exchange.obj.export_obj(textured_quad(), return_texture=True, mtl_name="quad.mtl")
    mtl = "\n".join(line if not line.startswith("map_Kd") else f"map_Kd {png}"
                    for line in extras["quad.mtl"].decode().splitlines())
    s = stats(load_upload("quad.zip", zipped({"quad.obj": obj, "quad.mtl": mtl})))
    assert s.triangles == 2 and s.texture_sizes == ()



def gltf_with(**fields: object) -> bytes:
    return json.dumps({"asset": {"version": "2.0"}, **fields}).encode()


def glb_of_json(text: bytes) -> bytes:
    """A GLB whose JSON chunk is `text`, as sent (`_pack_glb` would write it from a dict)."""
    text += b" " * (-len(text) % 4)
    chunk = struct.pack("<II", len(text), 0x4E4F534A) + text
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunk)) + chunk


def glb_with(**fields: object) -> bytes:
    return glb_of_json(gltf_with(**fields))


MALFORMED = {  # JSON that parses but breaks the glTF spec's types: each once raised a TypeError & co. (a 500)
    "required is a number": ("m.gltf", gltf_with(extensionsRequired=5)),
    "required holds an object": ("m.gltf", gltf_with(extensionsRequired=[{}])),
    "a mesh is a number": ("m.gltf", gltf_with(meshes=[5])),
    "a buffer is a number": ("m.gltf", gltf_with(buffers=[5])),
    "an image uri is a number": ("m.gltf", gltf_with(images=[{"uri": 5}])),
    "a view names no buffer": ("m.gltf", gltf_with(bufferViews=[{"buffer": 99, "byteLength": 4}])),
    "an offset is text": ("m.gltf", gltf_with(bufferViews=[{"buffer": 0, "byteOffset": "x", "byteLength": 4}])),
    "nested too deeply": ("m.gltf", b"[" * 100_000 + b"]" * 100_000),
    "GLB required is a number": ("m.glb", glb_with(extensionsRequired=7)),
    "GLB nested too deeply": ("m.glb", glb_of_json(b"[" * 100_000 + b"]" * 100_000)),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_gltf_of_the_wrong_types_is_refused_as_malformed(name: str) -> None:
    filename, data = MALFORMED[name]
    error = refused(InvalidInput, "studio_model_unreadable", filename, data)
    assert error.message.startswith("The 3D file is malformed: "), error.message
    assert "/" not in error.message and "Error" not in error.message  # no internal path or exception text


def corrupt_deflate_zip() -> bytes:
    """A zip whose member's deflate stream is damaged: its headers read, inflating the member fails."""
    data = bytearray(zipped({"m.obj": "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n" * 200}))
    start = 30 + len("m.obj") + 10  # past the local header, inside the compressed bytes
    data[start:start + 40] = bytes(b ^ 0x55 for b in data[start:start + 40])
    return bytes(data)


def test_a_zip_with_a_corrupt_deflate_stream_is_refused() -> None:
    data = corrupt_deflate_zip()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # the damage is where zlib, not zipfile, finds it
        info = archive.infolist()[0]
        with pytest.raises(zlib.error):
            archive.open(info).read()
    refused(InvalidInput, "studio_model_bad_zip", "m.zip", data)


def cut_texture_glb() -> bytes:
    """A GLB whose embedded PNG texture is cut short: its header opens, its pixels do not decode."""
    doc, binary = formats._split_glb(glb_of(textured_quad()))
    view = doc["bufferViews"][doc["images"][0]["bufferView"]]
    view["byteLength"] //= 2
    return formats._pack_glb(doc, binary)


def test_a_texture_cut_short_is_refused_when_read_not_when_written() -> None:
    refused(InvalidInput, "studio_model_bad_texture", "cut.glb", cut_texture_glb())
    files = gltf_files(textured_quad())
    png = next(n for n in files if n.endswith(".png"))
    files[png] = files[png][: len(files[png]) // 2]
    refused(InvalidInput, "studio_model_bad_texture", "cut.zip", zipped(files))


# --- writing ------------------------------------------------------------------------------------


def test_convert_obj_stl_ply_reopen() -> None:
    glb = glb_of(textured_quad(), hundred())
    obj = convert(glb, "obj")
    assert obj.filename_suffix == ".obj.zip" and obj.media_type == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(obj.data)).namelist()
    assert "model.obj" in names and "model.mtl" in names and any(n.endswith(".png") for n in names)
    back = stats(load_upload("model.zip", obj.data))
    assert back.triangles == 102 and back.texture_sizes == ((64, 32),)
    for fmt in ("stl", "ply"):
        out = convert(glb, fmt)
        assert out.filename_suffix == f".{fmt}"
        reopened = trimesh.load_mesh(io.BytesIO(out.data), file_type=fmt)
        assert len(reopened.faces) == 102
    ply = trimesh.load_mesh(io.BytesIO(convert(glb_of(red_box()), "ply").data), file_type="ply")
    assert tuple(ply.visual.vertex_colors[0]) == tuple(RED)  # the colour survives as vertex colours
    glb_back = convert(glb, "glb")
    assert glb_back.data == glb and glb_back.media_type == "model/gltf-binary"
    with pytest.raises(InvalidInput) as caught:
        convert(glb, "blend")
    assert caught.value.key == "studio_format_unknown"


def test_convert_usdz_keeps_texture_and_colour(tmp_path: Path) -> None:
    from pxr import Usd, UsdGeom, UsdShade

    usdz = convert(glb_of(textured_quad(), red_box()), "usdz")
    assert usdz.filename_suffix == ".usdz" and usdz.media_type == "model/vnd.usdz+zip"
    names = zipfile.ZipFile(io.BytesIO(usdz.data)).namelist()
    assert names[0].endswith(".usdc") and any(n.endswith(".png") for n in names)
    path = tmp_path / "model.usdz"
    path.write_bytes(usdz.data)
    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageUpAxis(stage) == "Y"
    meshes = [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
    assert sorted(len(m.GetFaceVertexCountsAttr().Get()) for m in meshes) == [2, 12]
    colours, files = [], []
    for mesh in meshes:
        material, _ = UsdShade.MaterialBindingAPI(mesh.GetPrim()).ComputeBoundMaterial()
        surface = material.ComputeSurfaceSource()[0]
        diffuse = surface.GetInput("diffuseColor")
        if diffuse.HasConnectedSource():
            source = diffuse.GetConnectedSources()[0][0].source
            files.append(UsdShade.Shader(source.GetPrim()).GetInput("file").Get().path)
        else:
            colours.append(tuple(round(c, 3) for c in diffuse.Get()))
    assert colours == [tuple(round(c / 255, 3) for c in RED[:3])]
    assert files and files[0].endswith(".png")
    # The texture in the package is the model's.
    png = next(n for n in names if n.endswith(".png"))
    image = Image.open(io.BytesIO(zipfile.ZipFile(io.BytesIO(usdz.data)).read(png)))
    assert image.size == (64, 32) and image.convert("RGB").getpixel((40, 20)) == (20, 180, 40)


def test_fbx_out_and_in_through_blender() -> None:
    """FBX written by Blender's exporter, opened again by Blender's importer; a cut FBX is a 4xx."""
    blue = trimesh.creation.box((1.0, 1.0, 1.0))
    blue.apply_translation([0.0, 0.0, 1.0])
    blue.visual = trimesh.visual.TextureVisuals(
        material=trimesh.visual.material.PBRMaterial(baseColorFactor=[30, 60, 220, 255]))
    fbx = convert(glb_of(red_box(), hundred(), textured_quad(), blue), "fbx")
    assert fbx.filename_suffix == ".fbx" and fbx.data.startswith(b"Kaydara FBX Binary")
    scene = load_upload("model.fbx", fbx.data)
    back = stats(scene)
    assert back.triangles == 126 and max(back.size) == pytest.approx(3.0, rel=1e-3)
    assert back.texture_sizes == ((64, 32),)  # the texture is embedded in the FBX
    colours = [np.round(formats.base_colour(g)[0][:3], 2).tolist() for g in scene.geometry.values()]
    assert [0.12, 0.24, 0.86] in colours  # and the material's colour kept
    refused(InvalidInput, "studio_model_unreadable", "broken.fbx", fbx.data[: len(fbx.data) // 3])


_FBX_NAMING_A_SERVER_FILE = r"""
import sys, bpy
png, dst = sys.argv[-2:]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.mesh.primitive_plane_add()
material = bpy.data.materials.new("m")
material.use_nodes = True
texture = material.node_tree.nodes.new("ShaderNodeTexImage")
texture.image = bpy.data.images.load(png)
material.node_tree.links.new(texture.outputs["Color"], material.node_tree.nodes["Principled BSDF"].inputs[0])
bpy.context.active_object.data.materials.append(material)
bpy.ops.export_scene.fbx(filepath=dst, path_mode="ABSOLUTE", embed_textures=False)
"""


def test_fbx_naming_a_file_on_the_server_gets_nothing_from_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    secret = tmp_path / "secret.png"
    texture().save(secret)
    fbx = tmp_path / "plane.fbx"
    subprocess.run([sys.executable, "-c", _FBX_NAMING_A_SERVER_FILE, str(secret), str(fbx)], check=True,
                   capture_output=True, timeout=120)
    assert str(secret).encode() in fbx.read_bytes()  # the FBX names the server's file by its absolute path
    s = stats(load_upload("plane.fbx", fbx.read_bytes()))
    assert s.triangles == 2 and s.materials == 1 and s.texture_sizes == ()


_WITHOUT_BLENDER = r"""
import sys
from importlib.abc import MetaPathFinder


class NoBlender(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "bpy":
            raise ModuleNotFoundError(name)
        return None


sys.meta_path.insert(0, NoBlender())
import trimesh
from boda.apps.studio import formats
from boda.core.errors import BodaError

glb = formats.to_glb(trimesh.Scene([trimesh.creation.box()]))
for call in (lambda: formats.convert(glb, "fbx"), lambda: formats.load_upload("m.fbx", b"Kaydara FBX Binary  ")):
    try:
        call()
    except BodaError as exc:
        print(exc.status_code, exc.key)
print(formats.convert(glb, "stl").filename_suffix)
"""


def test_without_blender_fbx_is_a_clear_503_and_the_rest_works() -> None:
    import subprocess
    import sys

    root = Path(formats.__file__).parents[3]
    done = subprocess.run([sys.executable, "-c", _WITHOUT_BLENDER], capture_output=True, text=True, timeout=120,
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, check=True)
    assert done.stdout.split("\n")[:3] == ["503 studio_fbx_unavailable", "503 studio_fbx_unavailable", ".stl"]


def test_quantized_texture_coordinates_are_read_as_the_spec_says() -> None:
    """KHR_mesh_quantization (gltfpack's output): normalized uint16 texture coordinates become 0..1."""
    mesh = hundred()
    uv = np.column_stack([mesh.vertices[:, 0], mesh.vertices[:, 1] / 2])
    positions = mesh.vertices.astype(np.float32).tobytes()
    indices = mesh.faces.astype(np.uint32).tobytes()
    coords = np.round(uv * 65535).astype(np.uint16).tobytes()
    binary = positions + indices + coords
    n = len(mesh.vertices)
    doc = {
        "asset": {"version": "2.0"}, "extensionsUsed": ["KHR_mesh_quantization"],
        "extensionsRequired": ["KHR_mesh_quantization"], "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [{"buffer": 0, "byteLength": len(positions)},
                        {"buffer": 0, "byteOffset": len(positions), "byteLength": len(indices)},
                        {"buffer": 0, "byteOffset": len(positions) + len(indices), "byteLength": len(coords)}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": n, "type": "VEC3",
                       "min": mesh.bounds[0].tolist(), "max": mesh.bounds[1].tolist()},
                      {"bufferView": 1, "componentType": 5125, "count": mesh.faces.size, "type": "SCALAR"},
                      {"bufferView": 2, "componentType": 5123, "normalized": True, "count": n, "type": "VEC2"}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1]}}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "TEXCOORD_0": 2}, "indices": 1, "material": 0}]}],
        "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}], "scene": 0,
    }
    loaded = next(iter(load_upload("packed.glb", formats._pack_glb(doc, binary)).geometry.values()))
    assert np.allclose(loaded.visual.uv[:, 0], uv[:, 0], atol=1e-4)
    assert np.allclose(loaded.visual.uv[:, 1], 1 - uv[:, 1], atol=1e-4)


_BLENDER_OPENS = r"""
import sys, bpy
for path in sys.argv[-2:]:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if path.endswith(".obj"):
        bpy.ops.wm.obj_import(filepath=path)
    else:
        bpy.ops.wm.usd_import(filepath=path)
    meshes = [o for o in bpy.data.objects if o.type == "MESH"]
    polygons = sum(len(o.data.polygons) for o in meshes)
    images = sorted(tuple(i.size) for i in bpy.data.images if i.size[0])
    print("OPENED", path.rsplit(".", 1)[-1], polygons, images)
"""


def test_obj_and_usdz_downloads_open_in_blender(tmp_path: Path) -> None:
    import subprocess
    import sys

    glb = glb_of(textured_quad(), hundred())
    with zipfile.ZipFile(io.BytesIO(convert(glb, "obj").data)) as archive:
        archive.extractall(tmp_path / "obj")
    usdz = tmp_path / "model.usdz"
    usdz.write_bytes(convert(glb, "usdz").data)
    done = subprocess.run([sys.executable, "-c", _BLENDER_OPENS, str(tmp_path / "obj" / "model.obj"), str(usdz)],
                          capture_output=True, text=True, timeout=120, check=True)
    opened = [line for line in done.stdout.splitlines() if line.startswith("OPENED")]
    assert opened == ["OPENED obj 102 [(64, 32)]", "OPENED usdz 102 [(64, 32)]"], done.stdout[-2000:]
