"""Server-side pictures of a model: a thumbnail that shows the model in its colours, a turntable
that turns, and the scorer's views."""

from __future__ import annotations

import io
import time

import numpy as np
import trimesh
from PIL import Image

from boda.apps.studio import render
from tests.apps.studio.test_formats import glb_of, hundred, red_box, textured_quad


def pixels(webp: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(webp))
    assert image.format == "WEBP"
    return np.asarray(image.convert("RGB"), dtype=np.int32)


def share(image: np.ndarray, test) -> float:
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return float(np.mean(test(r, g, b)))


def is_red(r, g, b):
    return (r > 90) & (r > 2 * g) & (r > 2 * b)


def test_thumbnail_shows_the_model_in_its_colour() -> None:
    image = pixels(render.render_thumbnail(glb_of(red_box()), size=256))
    assert image.shape == (256, 256, 3)
    assert image.std() > 20  # not blank
    assert 0.2 < share(image, is_red) < 0.9  # the box fills the frame, in red, on the background
    corner = image[:8, :8].reshape(-1, 3)
    assert (np.abs(corner - render.BACKGROUND) <= 3).all()  # the neutral background around it
    # Faces facing different ways are shaded differently: it looks 3D.
    reds = image[is_red(image[..., 0], image[..., 1], image[..., 2])][:, 0]
    assert reds.max() - reds.min() > 20


def test_thumbnail_shows_the_texture() -> None:
    image = pixels(render.render_thumbnail(glb_of(textured_quad()), size=128))
    green = share(image, lambda r, g, b: (g > 80) & (g > 2 * r) & (g > 2 * b))
    yellow = share(image, lambda r, g, b: (r > 100) & (g > 100) & (b < 60))
    assert green > 0.15 and 0.01 < yellow < green  # the texture's green, and its small yellow corner


def test_vertex_colours_and_a_hundred_triangles() -> None:
    mesh = hundred()
    mesh.visual.vertex_colors = np.tile([30, 60, 220, 255], (len(mesh.vertices), 1))
    started = time.perf_counter()
    image = pixels(render.render_thumbnail(glb_of(mesh), size=128))
    assert time.perf_counter() - started < 5
    assert share(image, lambda r, g, b: (b > 100) & (b > 2 * r)) > 0.1


def test_turntable_turns() -> None:
    mesh = red_box()
    webp = render.render_turntable(glb_of(mesh), frames=8, size=64)
    image = Image.open(io.BytesIO(webp))
    assert image.format == "WEBP" and image.is_animated and image.n_frames == 8
    frames = []
    for i in range(image.n_frames):
        image.seek(i)
        frames.append(np.asarray(image.convert("RGB"), dtype=np.int32))
    assert all(share(f, is_red) > 0.05 for f in frames)
    assert np.abs(frames[0] - frames[2]).mean() > 2  # a quarter turn later the box looks different
    assert image.info.get("loop") == 0


def test_views_for_the_scorer() -> None:
    scene = trimesh.Scene([red_box(), hundred()])
    views = render.render_views(trimesh.Scene.export(scene, file_type="glb"), n=4, size=96)
    assert len(views) == 4 and all(v.size == (96, 96) and v.mode == "RGB" for v in views)
    arrays = [np.asarray(v, dtype=np.int32) for v in views]
    assert all(a.std() > 20 for a in arrays)
    assert np.abs(arrays[0] - arrays[1]).mean() > 2


def test_material_colour_without_texture() -> None:
    """The primitive composer's models: PBR materials with a base colour factor and no texture."""
    box = trimesh.creation.box((1.0, 1.0, 1.0))
    material = trimesh.visual.material.PBRMaterial(baseColorFactor=[30, 60, 220, 255], metallicFactor=0.0)
    box.visual = trimesh.visual.TextureVisuals(material=material)
    image = pixels(render.render_thumbnail(glb_of(box), size=96))
    assert share(image, lambda r, g, b: (b > 100) & (b > 2 * r)) > 0.2


def test_normals_in_the_file_shade_smoothly() -> None:
    """A sphere whose GLB carries normals is drawn smooth; the same sphere without them, in facets
    (the brightness jumps at every edge: its second difference is rarely zero)."""

    def creases(with_normals: bool) -> float:
        sphere = trimesh.creation.icosphere(subdivisions=2)
        sphere.visual.vertex_colors = [200, 200, 60, 255]
        if with_normals:
            assert sphere.vertex_normals.shape == (len(sphere.vertices), 3)  # cached: the GLB will carry them
        image = np.asarray(render.draw(render.prepare(glb_of(sphere)), 128), dtype=np.int32)[..., 0]
        inside = image < 225  # the sphere, not the background
        core = inside.copy()  # and not its outline
        for k in (1, 2, 3):
            core[k:] &= inside[:-k]
            core[:-k] &= inside[k:]
            core[:, k:] &= inside[:, :-k]
            core[:, :-k] &= inside[:, k:]
        second = np.abs(np.diff(image, n=2, axis=1))[core[:, 1:-1]]
        return float(np.mean(second > 1))

    assert creases(True) < 0.05 < 0.15 < creases(False)
