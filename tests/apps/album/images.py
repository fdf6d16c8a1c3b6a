"""Small test photos made with Pillow: distinct pictures, EXIF, every accepted format."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def picture(seed: int, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A smooth random picture: distinct perceptual hashes for distinct seeds."""
    coarse = np.random.default_rng(seed).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)


def encode(image: Image.Image, fmt: str = "JPEG", **save: object) -> bytes:
    buffer = io.BytesIO()
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def exif_jpeg(seed: int = 1, *, orientation: int = 1, size: tuple[int, int] = (96, 64)) -> bytes:
    """A JPEG with a date, a camera, a GPS position and an orientation."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "EOS 5D", orientation
    exif.get_ifd(0x8769).update({0x9003: "2021:05:06 07:08:09", 0x9011: "+09:00"})
    exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 30.0, 0.0), 3: "W", 4: (122.0, 15.0, 36.0)})
    return encode(picture(seed, size), "JPEG", exif=exif, quality=90)
