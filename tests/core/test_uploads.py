import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from boda.core.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia
from boda.core.storage import spool
from boda.core.uploads import inspect_image, read_image_upload, safe_filename
from tests.conftest import png_bytes


def _inspect(data: bytes, tmp_path: Path, max_pixels: int = 10_000_000):  # noqa: ANN202
    upload = spool(io.BytesIO(data), max_bytes=10**8, tmp_dir=tmp_path)
    try:
        return inspect_image(upload.path, upload.head, max_pixels=max_pixels)
    finally:
        upload.discard()


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt,ctype", [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                       ("WEBP", "image/webp"), ("GIF", "image/gif")])
def test_type_comes_from_the_bytes(tmp_path: Path, fmt: str, ctype: str) -> None:
    info = _inspect(png_bytes(format=fmt), tmp_path)
    assert info.content_type == ctype and (info.width, info.height) == (64, 48)


def test_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia):
        _inspect(b"%PDF-1.4 not an image at all", tmp_path)
    with pytest.raises(UnsupportedMedia):
        _inspect(b"<svg xmlns='http://www.w3.org/2000/svg'/>", tmp_path)


def test_truncated_image(tmp_path: Path) -> None:
    data = png_bytes((300, 300), format="JPEG")
    with pytest.raises(InvalidInput, match="broken or truncated"):
        _inspect(data[: len(data) // 3], tmp_path)


def test_decompression_bomb(tmp_path: Path) -> None:
    with pytest.raises(PayloadTooLarge, match="pixels"):
        _inspect(bomb_png(100_000, 100_000), tmp_path)
    with pytest.raises(PayloadTooLarge):
        _inspect(png_bytes((200, 200)), tmp_path, max_pixels=100 * 100)


BAD = Path(__file__).parents[1] / "fixtures" / "bad_images"


@pytest.mark.parametrize(("name", "refusal", "status"), [
    ("heic-eoferror.heic", InvalidInput, 400),
    ("heic-claims-huge.heic", PayloadTooLarge, 413),
    ("tiff-bad-exif-rational.tiff", InvalidInput, 400),
])
def test_what_decoders_raise_on_hostile_bytes_is_a_clear_refusal(tmp_path: Path, name: str,
                                                                  refusal: type[Exception], status: int) -> None:
    """EOFError, RuntimeError and TypeError from decoder plugins were 500s; and the reason is told without
    the temporary file's path (it was: "cannot identify image file '/tmp/boda-upload-...'")."""
    with pytest.raises(refusal) as caught:
        _inspect((BAD / name).read_bytes(), tmp_path)
    assert caught.value.status_code == status and str(tmp_path) not in str(caught.value)  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as garbage:
        _inspect(b"\xff\xd8\xff\xe0" + b"not really a JPEG" * 20, tmp_path)
    assert str(garbage.value) == "The image is broken or truncated" and garbage.value.details["reason"] == "OSError"


def test_a_jpeg_that_repeats_its_scans_is_refused_before_decoding(tmp_path: Path) -> None:
    """Each scan of a progressive JPEG is decoded over the whole image: 300 repeats of a 7000² grey
    JPEG's last scan (209 KB) took 35 s of one request's CPU."""
    buffer = io.BytesIO()
    Image.new("L", (64, 48), 128).save(buffer, "JPEG", progressive=True)
    data = buffer.getvalue()
    last = data.rindex(b"\xff\xda")
    repeated = data[:-2] + data[last:-2] * 150 + data[-2:]  # the last scan again and again before EOI
    assert _inspect(data, tmp_path).content_type == "image/jpeg"  # a real progressive JPEG passes
    with pytest.raises(InvalidInput, match="scans") as caught:
        _inspect(repeated, tmp_path)
    assert caught.value.details["scans"] > 150
    # A phone's motion photo carries a video after the image's end (EOI), FF DA bytes and all: not scans.
    motion = data + b"\x00\x00\x00\x18ftypmp42" + b"\xff\xda\x12\x34" * 500
    assert _inspect(motion, tmp_path).content_type == "image/jpeg"


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = Image.new("RGB", (80, 40), (10, 200, 10))
    exif = image.getexif()
    exif[0x0112] = 6  # rotated 90°: shown as 40×80
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    assert (_inspect(buffer.getvalue(), tmp_path).width, _inspect(buffer.getvalue(), tmp_path).height) == (40, 80)
    upright = read_image_upload(io.BytesIO(buffer.getvalue()), max_bytes=10**7, max_pixels=10**7)
    assert upright.size == (40, 80)


@pytest.mark.parametrize("raw,expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\evil.png", "evil.png"),
    ("/abs/path/photo.jpg", "photo.jpg"),
    (".hidden", "hidden"),
    ("na\x00me\n.png", "name.png"),
    ("", "upload"),
    (None, "upload"),
    ("사진.jpg", "사진.jpg"),
    ("a" * 300 + ".stl", "a" * 196 + ".stl"),  # bounded, but the extension stays (3D Studio reads the type by it)
])
def test_safe_filename(raw: str | None, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_heif_brands_name_their_type(tmp_path: Path) -> None:
    from boda.core.uploads import content_type_of, sniff_format

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="HEIF")
    info = _inspect(buffer.getvalue(), tmp_path)
    assert (info.format, info.content_type, info.width, info.height) == ("HEIF", "image/heic", 64, 48)
    plain = (24).to_bytes(4, "big") + b"ftypmif1" + b"\0\0\0\0" + b"mif1miaf"  # HEIF, not HEVC-coded
    assert sniff_format(plain) == "HEIF" and content_type_of("HEIF", plain) == "image/heif"
    assert sniff_format((24).to_bytes(4, "big") + b"ftypisom" + b"\0" * 12) is None  # an MP4 is not an image


def test_grey_with_premultiplied_alpha_is_read_not_refused_nor_a_500() -> None:
    """A TIFF of grey and associated alpha opens in Pillow's mode "La", which converts to RGB only through "LA":
    convert("RGB") raised ValueError after every check had passed."""
    buffer = io.BytesIO()
    Image.new("LA", (32, 24), (100, 200)).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    extra_samples = data.find(b"\x52\x01\x03\x00\x01\x00\x00\x00\x02\x00")  # ExtraSamples = 2 (unassociated)
    data[extra_samples + 8] = 1  # ... = 1: associated alpha
    assert Image.open(io.BytesIO(bytes(data))).mode == "La"
    image = read_image_upload(io.BytesIO(bytes(data)), max_bytes=10**7, max_pixels=10**7)
    red, green, blue = image.getpixel((0, 0))
    assert image.mode == "RGB" and image.size == (32, 24) and red == green == blue > 0
