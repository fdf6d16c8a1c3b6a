"""Where a photo was taken, taken out of its file for people its owner did not tell.

A phone writes the place into EXIF (the GPS block), often into XMP too, and an editor into
IPTC (a city's name); a motion photo's video after the image has its own. Serving an
original to a stranger (a public album, an unlisted link) would hand them the owner's home:

- JPEG, by far the usual case, keeps its pixels bit for bit. The GPS block of its EXIF goes
  (orientation, date and camera stay), and so do its XMP and IPTC packets, any second EXIF,
  the index of a multi-picture file and whatever follows the image's end. The walk never
  decodes: it is cheap enough to run on every such answer.
- Any other format, or a JPEG whose markers the walk cannot follow, is re-encoded upright
  without metadata when it carries EXIF GPS, XMP or IPTC: PNG, and anything with
  transparency, as PNG; the rest as JPEG (quality 92).

`without_location` answers None when there is nothing to take out: the file goes as stored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps

from boda.core import uploads  # also registers HEIF: iPhones write the place into HEIC too

GPS_IFD = 0x8825
_XMP_HEADERS = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
_EXIF_HEADER = b"Exif\x00\x00"
_MPF = b"MPF\x00"  # the index of a multi-picture file's other images, which are cut off
_XMP_KEYS = ("xmp", "XML:com.adobe.xmp")  # where Pillow puts XMP: WebP, HEIC, TIFF; PNG


@dataclass(frozen=True)
class Rewritten:
    data: bytes
    media_type: str
    extension: str


def _may_tell_place(image: Image.Image) -> bool:
    """Whether a file that is not rewritten marker by marker holds metadata that may say where it was taken."""
    return GPS_IFD in image.getexif() or any(image.info.get(key) for key in (*_XMP_KEYS, "iptc", "photoshop"))


def without_location(source: BinaryIO) -> Rewritten | None:
    """The image as a reader who may not know its place gets it, or None when the file as stored is fine."""
    with Image.open(source) as image:
        if image.format in ("JPEG", "MPO"):
            source.seek(0)
            data = source.read()
            rewritten = _jpeg_without_location(data, image.getexif())
            if rewritten is not None:
                return None if rewritten == data else Rewritten(rewritten, "image/jpeg", ".jpg")
        elif not _may_tell_place(image):
            return None
        return _reencoded(image)


def _reencoded(image: Image.Image) -> Rewritten:
    upright = ImageOps.exif_transpose(image)  # the orientation goes with the EXIF
    buffer = io.BytesIO()
    if image.format == "PNG" or "A" in upright.getbands() or "transparency" in upright.info:
        upright.convert("RGBA" if upright.mode not in ("RGB", "RGBA", "L", "LA") else upright.mode).save(
            buffer, "PNG")  # Pillow writes no eXIf, iTXt XMP or text unless asked
        return Rewritten(buffer.getvalue(), "image/png", ".png")
    upright.convert("RGB").save(buffer, "JPEG", quality=92)  # no size limit short of 65,535 px (WebP's is 16,383)
    return Rewritten(buffer.getvalue(), "image/jpeg", ".jpg")


def _jpeg_without_location(data: bytes, exif: Image.Exif) -> bytes | None:
    """The same JPEG without what may say where it was taken (see the module docstring); None when its
    markers cannot be followed to its end, so nothing would be cut by mistake."""
    kept, exif_seen, ended = [data[:2]], False, False  # SOI
    for marker, start, end in uploads.jpeg_segments(data):
        body = data[start + 4:end]
        if marker == 0xE1 and body.startswith(_EXIF_HEADER):
            if not exif_seen and GPS_IFD in exif:  # Pillow reads the first EXIF; a later one is dropped unread
                exif.pop(GPS_IFD)
                rewritten = exif.tobytes()
                kept.append(b"\xff\xe1" + (len(rewritten) + 2).to_bytes(2, "big") + rewritten)
            elif not exif_seen:
                kept.append(data[start:end])
            exif_seen = True
        elif not _tells_place(marker, body):
            kept.append(data[start:end])
        ended = marker == 0xD9
    return b"".join(kept) if ended else None


def _tells_place(marker: int, body: bytes) -> bool:
    return ((marker == 0xE1 and body.startswith(_XMP_HEADERS)) or marker == 0xED  # XMP; APP13: IPTC (a city)
            or (marker == 0xE2 and body.startswith(_MPF)))  # the index of the images cut off after the end
