"""Composed grocery photos for the recognisers: a real photo that ships with the repository and drawn fruit.

There is no openly licensed photo of groceries in the packages here, so the labelled set is composed:
`tests/fixtures/faces/coffee.jpg` (scikit-image's `coffee`, a cup of espresso on a saucer, CC0) and fruit
drawn as shaded spheres with a dimpled or smooth skin, a highlight and a shadow, on a light table. What
each picture holds is known (`LABELS`), so recall and precision can be counted (bench/pantry_recognise.py).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

COFFEE = Path(__file__).parents[2] / "fixtures" / "faces" / "coffee.jpg"
TABLE = (232, 226, 214)
# name -> (RGB colour, skin roughness)
FRUIT = {"orange": ((245, 130, 20), 0.12), "lime": ((90, 170, 40), 0.1), "apple": ((190, 20, 25), 0.03),
         "lemon": ((245, 220, 40), 0.1)}


def sphere(size: int, colour: tuple[int, int, int], roughness: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A lit fruit: RGB pixels and its mask (lit from the upper left, with a highlight and a dimpled skin)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    centre, radius = size / 2, size * 0.45
    nx, ny = (xx - centre) / radius, (yy - centre) / radius
    distance = np.sqrt(nx ** 2 + ny ** 2)
    mask = distance < 1
    z = np.sqrt(np.clip(1 - distance ** 2, 0, 1))
    light = np.clip(0.25 + 0.75 * (z * 0.7 - nx * 0.35 - ny * 0.45), 0, 1)
    noise = cv2.GaussianBlur(np.random.default_rng(seed).normal(0, 1, (size, size)).astype(np.float32), (0, 0), 1.2)
    shade = np.clip(light + noise * roughness, 0, 1.2)
    highlight = np.clip((z * 0.6 - nx * 0.4 - ny * 0.5 - 0.75) * 6, 0, 1)
    pixels = np.array(colour, np.float32)[None, None] * shade[..., None] + 153 * highlight[..., None]
    return np.clip(pixels, 0, 255).astype(np.uint8), mask


def scene(items: list[tuple[str, int, int, int]], size: tuple[int, int] = (640, 400), *,
          coffee_at: tuple[int, int, int] | None = None, seed: int = 0) -> Image.Image:
    """A table with fruit (`name, x, y, diameter`) and optionally the coffee photo (`x, y, width`)."""
    width, height = size
    canvas = np.zeros((height, width, 3), np.uint8) + np.array(TABLE, np.uint8)
    if coffee_at is not None:
        x, y, w = coffee_at
        photo = Image.open(COFFEE).convert("RGB")
        photo = photo.resize((w, round(w * photo.height / photo.width)), Image.Resampling.LANCZOS)
        patch = np.asarray(photo)[: height - y, : width - x]
        canvas[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
    for n, (name, x, y, diameter) in enumerate(items):
        colour, roughness = FRUIT[name]
        pixels, mask = sphere(diameter, colour, roughness, seed + n)
        shadow = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), diameter / 12) * 0.35
        down, right = y + diameter // 12, x + diameter // 10
        region = canvas[down:down + diameter, right:right + diameter]
        region[:] = (region * (1 - shadow[: region.shape[0], : region.shape[1], None])).astype(np.uint8)
        target = canvas[y:y + diameter, x:x + diameter]
        inside = mask[: target.shape[0], : target.shape[1]]
        target[inside] = pixels[: target.shape[0], : target.shape[1]][inside]
    return Image.fromarray(canvas)


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


# The labelled set: each picture, and the ingredients (Korean names) it holds.
def labelled() -> list[tuple[str, Image.Image, set[str]]]:
    return [
        ("coffee", Image.open(COFFEE).convert("RGB"), {"원두커피"}),
        ("orange", scene([("orange", 200, 80, 240)]), {"오렌지"}),
        ("lime", scene([("lime", 220, 90, 220)]), {"라임"}),  # the recognisers call it a green apple: a miss
        ("oranges", scene([("orange", 60, 100, 200), ("orange", 360, 120, 190)], seed=3), {"오렌지"}),
        ("orange+apple", scene([("orange", 40, 100, 220), ("apple", 360, 110, 210)], seed=5), {"오렌지", "사과"}),
        ("coffee+orange", scene([("orange", 420, 150, 190)], (800, 420), coffee_at=(0, 10, 400), seed=7),
         {"원두커피", "오렌지"}),
        ("table", scene([], seed=9), set()),
    ]


TRUTH = {"orange": "오렌지", "apple": "사과", "lemon": "레몬", "lime": "라임"}


def random_set(count: int, seed: int = 2026) -> list[tuple[str, Image.Image, set[str]]]:
    """`count` more tables: 0-3 drawn fruits of the four kinds, apart, 100-230 px, a third with the coffee photo."""
    rng = np.random.default_rng(seed)
    out = []
    for n in range(count):
        width, height = 800, 480
        with_coffee = n % 3 == 0
        left = 330 if with_coffee else 10
        items: list[tuple[str, int, int, int]] = []
        for _ in range(int(rng.integers(0 if n % 7 == 6 else 1, 4))):
            size = int(rng.integers(100, 231))
            for _try in range(20):
                x, y = int(rng.integers(left, width - size - 30)), int(rng.integers(10, height - size - 30))
                if all(abs(x - a) > (size + d) // 2 + 20 or abs(y - b) > (size + d) // 2 + 20 for _, a, b, d in items):
                    items.append((str(rng.choice(list(FRUIT))), x, y, size))
                    break
        image = scene(items, (width, height), coffee_at=(0, 40, 320) if with_coffee else None, seed=n)
        truth = {TRUTH[name] for name, *_ in items} | ({"원두커피"} if with_coffee else set())
        out.append((f"random-{n}", image, truth))
    return out


FONT = Path(__file__).parents[3] / "boda/web/static/vendor/pretendard/PretendardVariable.woff2"
RECEIPT = ["행복마트 영수증", "2026-12-01 18:32", "대파 1단          2,980", "두부 300g         1,500",
           "BANANA 1.2kg      3,990", "봉투 20L            100", "합계              8,570"]


def receipt(lines: list[str] = RECEIPT, size: int = 34) -> Image.Image:
    """A printed receipt: the lines in Pretendard (the UI's font, carried in the repository) on paper."""
    from PIL import ImageDraw, ImageFont

    step = int(size * 1.65)
    image = Image.new("RGB", (640, 48 + step * len(lines)), (252, 252, 248))
    draw, font = ImageDraw.Draw(image), ImageFont.truetype(str(FONT), size)
    for n, line in enumerate(lines):
        draw.text((24, 24 + step * n), line, font=font, fill=(20, 20, 20))
    return image
