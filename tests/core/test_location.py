"""A photo's place is taken out of its file, and nothing else is changed that need not be."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from boda.core.location import GPS_IFD, without_location
from tests.apps.album.images import encode, exif_jpeg, picture

XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description exif:GPSLatitude="37,30.0N" '
       b'exif:GPSLongitude="122,15.6W"/></rdf:RDF></x:xmpmeta>')
XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"


def _exif_with_place(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (37.0, 30.0, 0.0), 3: "W", 4: (122.0, 15.0, 36.0)})
    return exif


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.int16)


def test_a_jpeg_loses_its_place_its_xmp_and_what_follows_it_and_keeps_every_pixel_and_the_rest() -> None:
    original = exif_jpeg(5, orientation=6)
    xmp = _segment(0xE1, XMP_APP1 + XMP)
    iptc = _segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0c\x1c\x02\x5a\x00\x05Seoul")
    video = b"\x00\x00\x00\x18ftypmp42" + b"\xff\xda\x12\x34" * 50 + b"GPS 37.5 -122.26"  # a motion photo's
    data = original[:2] + xmp + iptc + original[2:] + video

    placeless = without_location(io.BytesIO(data))

    assert placeless is not None and placeless.media_type == "image/jpeg"
    assert not any(word in placeless.data for word in (b"GPS", b"ftypmp42", b"Seoul"))
    image = Image.open(io.BytesIO(placeless.data))
    exif = image.getexif()
    assert GPS_IFD not in exif and "xmp" not in image.info
    assert (exif[0x010F], exif[0x0112], exif.get_ifd(0x8769)[0x9003]) == ("Canon", 6, "2021:05:06 07:08:09")
    assert placeless.data.endswith(original[original.index(b"\xff\xda"):])  # the scans, byte for byte
    assert np.array_equal(_pixels(placeless.data), _pixels(original))


def test_places_pillow_does_not_read_are_cut_too() -> None:
    """Pillow reads the first EXIF only; a motion photo's video may have a place its image lacks."""
    plain = encode(picture(3), "JPEG", quality=90)
    second_exif = _segment(0xE1, _exif_with_place().tobytes())
    first_exif = _segment(0xE1, b"Exif\x00\x00" + Image.Exif().tobytes()[6:])
    for data in (plain[:2] + first_exif + second_exif + plain[2:],
                 plain[:2] + _segment(0xE1, XMP_APP1 + XMP) + plain[2:],  # XMP alone
                 plain + b"\x00\x00\x00\x18ftypmp42 ISO6709+37.5-122.26/"):  # only the video after the image
        placeless = without_location(io.BytesIO(data))
        assert placeless is not None, data[:40]
        assert not any(word in placeless.data for word in (b"GPS", b"ISO6709"))
        assert GPS_IFD not in Image.open(io.BytesIO(placeless.data)).getexif()
        assert np.array_equal(_pixels(placeless.data), _pixels(plain))


def _strayed(jpeg: bytes) -> bytes:
    """Two stray bytes before the quantisation tables: Pillow skips them, a marker walk stops there."""
    at = jpeg.index(b"\xff\xdb")
    return jpeg[:at] + b"\x00\x00" + jpeg[at:]


def test_a_jpeg_whose_markers_cannot_be_followed_is_re_encoded_not_cut_short() -> None:
    plain = exif_jpeg(6)
    stray = _strayed(plain)
    placeless = without_location(io.BytesIO(stray))
    assert placeless is not None and placeless.media_type == "image/jpeg"
    image = Image.open(io.BytesIO(placeless.data))
    assert image.size == (96, 64) and not image.getexif()
    assert np.abs(_pixels(placeless.data) - _pixels(plain)).mean() < 3


def test_a_file_that_never_said_where_is_left_alone() -> None:
    assert without_location(io.BytesIO(encode(picture(1), "JPEG"))) is None
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    assert without_location(io.BytesIO(encode(picture(1), "JPEG", exif=exif))) is None
    assert without_location(io.BytesIO(encode(picture(1), "PNG"))) is None
    assert without_location(io.BytesIO(encode(picture(1), "WEBP"))) is None


@pytest.mark.parametrize(("fmt", "media_type"), [("PNG", "image/png"), ("WEBP", "image/jpeg"),
                                                  ("HEIF", "image/jpeg")])
def test_other_formats_are_re_encoded_upright_without_metadata(fmt: str, media_type: str) -> None:
    turned = _exif_with_place(orientation=6)  # to be shown turned a quarter: 64x96 upright
    save = {"exif": turned.tobytes()} if fmt == "HEIF" else {"exif": turned}
    source = picture(4, (96, 64))
    data = encode(source, fmt, **save)

    placeless = without_location(io.BytesIO(data))

    assert placeless is not None and placeless.media_type == media_type
    image = Image.open(io.BytesIO(placeless.data))
    assert image.size == (64, 96) and not image.getexif() and "xmp" not in image.info
    upright = np.asarray(source.transpose(Image.Transpose.ROTATE_270).convert("RGB"), np.int16)
    difference = np.abs(_pixels(placeless.data) - upright).mean()
    assert difference == 0 if fmt == "PNG" else difference < 6, difference


def test_a_panorama_wider_than_webp_allows_is_still_served() -> None:
    """WebP stops at 16,383 pixels a side: a re-encoded panorama once raised there (a 500)."""
    data = _strayed(encode(Image.new("RGB", (17_000, 8), (40, 90, 160)), "JPEG", exif=_exif_with_place()))
    placeless = without_location(io.BytesIO(data))
    assert placeless is not None and Image.open(io.BytesIO(placeless.data)).size == (17_000, 8)
