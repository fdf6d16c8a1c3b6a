"""Thumbnail time for a 100k-triangle GLB per renderer tried, and conversion time per download format.

Run: .venv/bin/python bench/studio_render.py [--triangles 100000] [--size 512] [--repeats 5]. Prints
figures; asserts nothing.

The model is made here: a torus of about 100k triangles with vertex colours, plus a textured quad
(a 1024² texture), exported as one GLB by trimesh. Each renderer draws the same 3/4 view at the size:

- numpy: Boda's own z-buffer rasteriser (`boda.apps.studio.render`), 2x supersampled, in-process.
  Times: the whole `render_thumbnail` (GLB parse + draw + WebP), and `draw` alone on a parsed model.
- moderngl: OpenGL 3.3 through EGL on Mesa's llvmpipe (CPU), 4x MSAA, the same camera and flat
  Lambert shading; needs `moderngl` + `glcontext` from PyPI (not Boda dependencies: `--moderngl DIR`
  adds a folder made by `pip install --no-deps --target DIR moderngl glcontext`) and Debian's
  libegl1 + libgl1-mesa-dri. First-frame (context creation) and warm figures.
- blender: `bpy` (the studio-fbx extra) Workbench and Eevee in a subprocess, as a worker would run
  it: glTF import + render + PNG; start-up included, since a worker would pay it for each model.

Conversions: `boda.apps.studio.formats.convert` from the GLB to obj (zip), stl, ply, usdz and fbx.

Figures (2 cores shared with other work, load 4-9; CPU seconds are the steadier measure), 99,460
triangles at 512 px: numpy draw 0.55 s CPU, whole thumbnail 0.7-0.8 s CPU, 24-frame turntable
3.0-3.9 s CPU; moderngl/llvmpipe warm 0.20 s CPU (first frame 0.26 s); Blender Workbench 2.2 s CPU
(5.0 s wall), Cycles 3.1 s CPU at 128 px, Eevee 15 s CPU (32 s wall). Conversions: obj zip 1.6 s,
stl 0.1 s, ply 0.08 s, usdz 0.4 s, fbx (Blender subprocess) 2.2-2.6 s CPU; upload parse + stats 0.07 s.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boda.apps.studio import formats, render  # noqa: E402


def machine() -> None:
    versions = []
    for name in ("numpy", "trimesh", "pillow", "usd-core", "bpy", "moderngl"):
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} -")
    print(f"cores {os.cpu_count()}, {platform.processor() or platform.machine()}, Python {platform.python_version()},"
          f" load {os.getloadavg()[0]:.1f}")
    print(", ".join(versions))


def model(triangles: int) -> bytes:
    sections = max(8, int(math.sqrt(triangles / 2)))
    torus = trimesh.creation.torus(1.0, 0.35, major_sections=sections, minor_sections=sections)
    torus.visual.vertex_colors = np.column_stack([
        (120 + 120 * np.sin(torus.vertices[:, 0] * 2)).astype(np.uint8), np.full(len(torus.vertices), 60, np.uint8),
        (120 + 120 * np.cos(torus.vertices[:, 2] * 2)).astype(np.uint8), np.full(len(torus.vertices), 255, np.uint8)])
    texture = Image.fromarray((np.random.default_rng(0).random((1024, 1024, 3)) * 255).astype(np.uint8))
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=texture, baseColorFactor=[255, 255, 255, 255])
    quad = trimesh.Trimesh([[-1.5, -1, -1.5], [1.5, -1, -1.5], [1.5, -1, 1.5], [-1.5, -1, 1.5]], [[0, 2, 1], [0, 3, 2]],
                           visual=trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]], material=material),
                           process=False)
    return formats.to_glb(trimesh.Scene([torus, quad]))


def cpu() -> float:
    """CPU seconds of this process and its finished children: on a shared machine, the cost itself."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, repeats: int) -> tuple[float, float, float]:
    """p50 and max wall seconds, and p50 CPU seconds."""
    times, cpus = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), cpu()
        fn()
        times.append(time.perf_counter() - started)
        cpus.append(cpu() - started_cpu)
    return statistics.median(times), max(times), statistics.median(cpus)


def row(name: str, p50: float, worst: float, cpu_s: float, note: str = "") -> None:
    print(f"  {name:<40} p50 {p50 * 1000:7.0f} ms  max {worst * 1000:7.0f} ms  cpu {cpu_s * 1000:7.0f} ms  {note}")


def bench_numpy(glb: bytes, size: int, repeats: int) -> None:
    row("numpy: render_thumbnail (parse+draw+webp)", *timed(lambda: render.render_thumbnail(glb, size), repeats))
    parsed = render.prepare(glb)
    row("numpy: draw only", *timed(lambda: render.draw(parsed, size), repeats))
    row("numpy: turntable 24 x 256", *timed(lambda: render.render_turntable(glb), 1), "one run")


_VERTEX = """
#version 330
uniform mat4 mvp;
in vec3 in_pos; in vec3 in_normal; in vec3 in_colour;
out vec3 v_normal; out vec3 v_colour;
void main() { gl_Position = mvp * vec4(in_pos, 1.0); v_normal = in_normal; v_colour = in_colour; }
"""
_FRAGMENT = """
#version 330
uniform vec3 key; uniform vec3 fill;
in vec3 v_normal; in vec3 v_colour; out vec4 colour;
void main() {
  vec3 n = normalize(v_normal);
  float light = 0.25 + 0.75 * abs(dot(n, key)) + 0.25 * max(dot(n, fill), 0.0);
  colour = vec4(pow(clamp(v_colour * light, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
}
"""


def bench_moderngl(glb: bytes, size: int, repeats: int) -> None:
    try:
        import moderngl
    except ImportError:
        print("  moderngl: not installed (--moderngl DIR); skipped")
        return
    started = time.perf_counter()
    try:
        ctx = moderngl.create_standalone_context(backend="egl")
    except Exception as exc:  # noqa: BLE001 - no EGL here: say so
        print(f"  moderngl: no EGL context ({exc}); skipped")
        return
    context_s = time.perf_counter() - started
    parsed = render.prepare(glb)
    program = ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)

    def draw() -> bytes:
        v, f = parsed.vertices, parsed.faces
        tri = v[f].reshape(-1, 3).astype(np.float32)
        normal = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        normal = np.repeat(normal / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12), 3, axis=0)
        colour = parsed.colours[f].reshape(-1, 3)
        data = np.hstack([tri, normal.astype(np.float32), colour]).astype(np.float32)
        rotation, eye = render._camera(parsed, render.AZIMUTH, render.ELEVATION)
        view = np.eye(4)
        view[:3, :3] = rotation * np.array([[1], [1], [-1]])
        view[:3, 3] = -view[:3, :3] @ eye
        near, far = parsed.radius * 0.1, parsed.radius * 10
        focal = 1 / math.tan(render.FOV / 2)
        proj = np.array([[focal, 0, 0, 0], [0, focal, 0, 0],
                         [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)], [0, 0, -1, 0]])
        program["mvp"].write((proj @ view).T.astype("f4").tobytes())
        right, up, forward = rotation
        program["key"].value = tuple(-forward + 0.6 * up - 0.5 * right)
        program["fill"].value = tuple(-forward - 0.3 * up + 0.8 * right)
        vbo = ctx.buffer(data.tobytes())
        vao = ctx.vertex_array(program, [(vbo, "3f 3f 3f", "in_pos", "in_normal", "in_colour")])
        fbo = ctx.simple_framebuffer((size, size), samples=4)
        fbo.use()
        ctx.enable(moderngl.DEPTH_TEST)
        fbo.clear(*(c / 255 for c in render.BACKGROUND), 1.0)
        vao.render()
        resolved = ctx.simple_framebuffer((size, size))
        ctx.copy_framebuffer(resolved, fbo)
        image = Image.frombytes("RGB", (size, size), resolved.read(components=3)).transpose(Image.FLIP_TOP_BOTTOM)
        for thing in (vao, vbo, fbo, resolved):
            thing.release()
        out = io.BytesIO()
        image.save(out, format="WEBP", quality=85)
        return out.getvalue()

    first, first_cpu = time.perf_counter(), cpu()
    draw()
    took = context_s + time.perf_counter() - first
    row("moderngl EGL llvmpipe: first frame", took, took, cpu() - first_cpu, "context included in wall")
    row("moderngl EGL llvmpipe: warm (draw+webp)", *timed(draw, repeats), "GLB already parsed")


_BLENDER = r"""
import sys, time, bpy
engine, src, dst, size = sys.argv[-4], sys.argv[-3], sys.argv[-2], int(sys.argv[-1])
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.gltf(filepath=src)
scene = bpy.context.scene
cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
scene.collection.objects.link(cam)
scene.camera = cam
cam.location = (4.5, 3.0, 4.5)
cam.rotation_euler = (1.15, 0, 0.785)
scene.render.engine = engine
scene.render.resolution_x = scene.render.resolution_y = size
scene.render.filepath = dst
bpy.ops.render.render(write_still=True)
"""


def bench_blender(glb: bytes, size: int) -> None:
    try:
        importlib.metadata.version("bpy")
    except importlib.metadata.PackageNotFoundError:
        print("  blender: bpy not installed (the studio-fbx extra); skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "model.glb"
        src.write_bytes(glb)
        for engine in ("BLENDER_WORKBENCH", "BLENDER_EEVEE", "CYCLES"):
            started, started_cpu = time.perf_counter(), cpu()
            done = subprocess.run([sys.executable, "-c", _BLENDER, engine, str(src), str(Path(tmp) / f"{engine}.png"),
                                   str(size if engine != "CYCLES" else 128)],
                                  capture_output=True, timeout=600, check=False)
            took = time.perf_counter() - started
            ok = done.returncode == 0 and (Path(tmp) / f"{engine}.png").is_file()
            note = "subprocess, start-up + import + render" if ok else \
                "FAILED: " + done.stderr.decode(errors="replace").strip().splitlines()[-1][:80]
            row(f"blender {engine.lower()}" + (" (128 px)" if engine == "CYCLES" else ""), took, took,
                cpu() - started_cpu, note)


def bench_convert(glb: bytes, repeats: int) -> None:
    for fmt in formats.FORMATS:
        if fmt == "fbx" and not formats.blender_available():
            print("  fbx: bpy not installed; skipped")
            continue
        size = len(formats.convert(glb, fmt).data)
        p50, worst, cpu_s = timed(lambda fmt=fmt: formats.convert(glb, fmt), 1 if fmt == "fbx" else repeats)
        row(f"convert to {fmt}", p50, worst, cpu_s, f"{size / 1e6:.1f} MB")
    row("load_upload (GLB) + stats", *timed(lambda: formats.stats(formats.load_upload("m.glb", glb)), repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--triangles", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--moderngl", type=Path, help="a folder holding moderngl + glcontext (pip --target)")
    parser.add_argument("--skip-blender", action="store_true")
    args = parser.parse_args()
    if args.moderngl:
        sys.path.insert(0, str(args.moderngl))
    machine()
    glb = model(args.triangles)
    s = formats.stats(formats.load_upload("m.glb", glb))
    print(f"model: {s.triangles} triangles, {s.vertices} vertices, textures {s.texture_sizes},"
          f" GLB {len(glb) / 1e6:.1f} MB")
    print(f"thumbnail {args.size} px:")
    bench_numpy(glb, args.size, args.repeats)
    bench_moderngl(glb, args.size, args.repeats)
    if not args.skip_blender:
        bench_blender(glb, args.size)
    print("conversions:")
    bench_convert(glb, args.repeats)


if __name__ == "__main__":
    main()
