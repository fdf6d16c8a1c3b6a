"""Train the digit CNN on MNIST and export it to ONNX for `boda.ai.digits`.

PyTorch is the optional extra `boda[train]` and is imported inside the
functions, so serving (ONNX Runtime only) never needs it.

The exported model takes `input`: float32 [N, 1, 28, 28], MNIST-style pixels
scaled to [0, 1] (ink = 1, paper = 0); the mean/std normalisation is inside the
graph. It returns `logits`: float32 [N, 10]. The batch axis is dynamic.

With `members` > 1, that many CNNs are trained with seeds seed, seed + 1, ...
(each exactly the model a lone run with its seed gives) and joined in one ONNX
graph whose `logits` are the log of their mean probabilities: an ensemble, the
oldest way to fewer MNIST errors, at the cost of a few more microseconds.

MNIST's writers end a 9 with a straight stem; many others curl its foot to the left,
and the CNN then read those 9s as 3s (most of its errors on scikit-learn's digits, rows
600-1797, found there and measured on rows 0-599). So half of the 9s are also trained on
with a curl drawn at their foot (`curl_foot`), as extra samples beside the originals.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from boda.apps.vision.mnist import MNIST_ATTRIBUTION, load_mnist

Progress = Callable[[float, str], None]

OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
EXPORT_TOLERANCE = 1e-4

# Augmentation ranges: wide enough for photos and canvas drawings (tilt, slant,
# loose framing, pen width), narrow enough that a 6 never turns into a 9.
MAX_ROTATION_DEG = 12.0
SCALE_RANGE = (0.85, 1.1)
MAX_SHEAR = 0.3
MAX_SHIFT_PX = 2.0
STROKE_CHANGE_P = 0.3
CURLED_NINES = 0.5  # share of the training 9s also seen with a curled foot


def train_digits(
    *,
    out: Path,
    data_dir: Path | None,
    epochs: int,
    seed: int,
    batch_size: int,
    members: int = 1,
    device: str = "cpu",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train, evaluate on the held-out test split, export ONNX and write metrics JSON.

    Returns the metrics that are also written to `out` with a `.json` suffix.
    """
    import torch

    if epochs < 1 or batch_size < 1 or members < 1:
        raise ValueError("epochs, batch_size and members must be at least 1")
    report = progress or (lambda _fraction, _message: None)
    started = time.perf_counter()
    restore_determinism = _make_deterministic(torch, seed, device)
    member_metrics = []
    try:
        train_x, train_y = load_mnist("train", data_dir)
        test_x, test_y = load_mnist("test", data_dir)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
            paths = []
            for k in range(members):
                share = 0.95 / members

                def member_report(done: float, message: str, k: int = k, share: float = share) -> None:
                    prefix = f"member {k + 1}/{members}: " if members > 1 else ""
                    report(k * share + done * share, prefix + message)

                torch.manual_seed(seed + k)
                np.random.seed(seed + k)
                curled = curled_nines(train_x, train_y, np.random.default_rng(seed + k))
                member_x = np.concatenate([train_x, curled])
                member_y = np.concatenate([train_y, np.full(len(curled), 9, train_y.dtype)])
                model = build_model().to(device)
                _fit(model, member_x, member_y, epochs=epochs, seed=seed + k, batch_size=batch_size,
                     device=device, report=member_report)
                path = out if members == 1 else Path(scratch) / f"member{k}.onnx"
                max_diff = export_onnx(model, path, sample=test_x[:256])
                member_metrics.append({"seed": seed + k, "onnx_max_abs_diff": float(max_diff),
                                       "test_accuracy": round(evaluate(model, test_x, test_y, device=device), 6)})
                paths.append(path)
            if members > 1:
                report(0.96, f"joining {members} members into one ONNX graph")
                max_diff = join_members(paths, out, sample=test_x[:256])
        accuracy = onnx_accuracy(out, test_x, test_y)
        report(0.97, f"test accuracy {accuracy:.4%}")
    finally:
        restore_determinism()
    metrics: dict[str, Any] = {
        "test_accuracy": round(accuracy, 6),
        "test_digits": len(test_y),
        "held_out": True,  # MNIST's test writers are not its training writers; nothing here trains on them
        "train_digits": len(train_y),
        "curled_nines": len(curled),
        "epochs": epochs,
        "seed": seed,
        "batch_size": batch_size,
        "parameters": parameter_count(model) * members,
        "device": _device_name(torch, device),
        "torch": torch.__version__,
        "onnx_opset": OPSET,
        "onnx_max_abs_diff": float(max_diff),
        "input": "float32 [N,1,28,28], MNIST-style ink in [0,1] (pixel/255); "
        "normalisation inside the graph",
        "output": "float32 [N,10] logits" + (" (the log of the members' mean probability)" if members > 1 else ""),
        "train_seconds": round(time.perf_counter() - started, 1),
        **({"members": member_metrics} if members > 1 else {}),
        "data": MNIST_ATTRIBUTION,
        # What `boda.ai.catalog` checks a trained model in the models folder against.
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }
    out.with_suffix(".json").write_text(json.dumps(metrics, indent=2) + "\n")
    report(1.0, f"saved {out.name}: {accuracy:.2%} on {len(test_y)} test digits")
    return metrics


def curl_foot(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """The digit with a curl drawn leftwards from the foot of its stem, in the pen's width.

    Drawn at 8x on a padded canvas (the curl may reach past the frame), then
    normalised as the reader normalises what it reads (`normalise_digit`).
    None for a blank image.
    """
    from boda.ai.digits import normalise_digit

    ink = digit > 100
    ys, xs = np.nonzero(ink)
    if ys.size == 0:
        return None
    bottom = int(ys.max())
    foot_x, foot_y = float(xs[ys >= bottom - 1].mean()), bottom - 1.0
    distance = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 3)
    pen = max(1, round(2 * float(distance[ink].mean())))
    zoom, pad = 8, 12
    canvas = cv2.resize(digit, (digit.shape[1] * zoom, digit.shape[0] * zoom), interpolation=cv2.INTER_LINEAR)
    canvas = cv2.copyMakeBorder(canvas, pad * zoom, pad * zoom, pad * zoom, pad * zoom, cv2.BORDER_CONSTANT, value=0)
    radius, depth, end = rng.uniform(2.5, 5.0), rng.uniform(0.4, 0.9), rng.uniform(0.55, 1.0) * np.pi
    t = np.linspace(0.0, end, 24)
    # Down and round to the left from the foot: half an ellipse at most.
    x = (foot_x - radius + radius * np.cos(t) + pad) * zoom
    y = (foot_y + depth * radius * np.sin(t) + pad) * zoom
    curve = np.stack([x, y], axis=1).round().astype(np.int32)
    cv2.polylines(canvas, [curve], False, 255, thickness=pen * zoom, lineType=cv2.LINE_AA)
    return normalise_digit(canvas)


def curled_nines(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                 share: float = CURLED_NINES) -> np.ndarray:
    """Curled-foot copies (`curl_foot`) of a random `share` of the 9s: (N, 28, 28) uint8."""
    nines = np.flatnonzero(labels == 9)
    chosen = np.sort(rng.choice(nines, int(len(nines) * share), replace=False))
    curled = [c for c in (curl_foot(images[i], rng) for i in chosen) if c is not None]
    return np.stack(curled) if curled else np.zeros((0, *images.shape[1:]), np.uint8)


def build_model() -> Any:
    """A small VGG-style CNN (~140k parameters, ~0.55 MB as float32 ONNX)."""
    from torch import nn

    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

    class DigitsCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                *block(1, 32), *block(32, 32), nn.MaxPool2d(2),  # 14x14
                *block(32, 64), *block(64, 64), nn.MaxPool2d(2),  # 7x7
                nn.Conv2d(64, 128, 3, bias=False), nn.BatchNorm2d(128), nn.ReLU(),  # 5x5
            )
            self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, 10))

        def forward(self, x: Any) -> Any:
            x = (x - MNIST_MEAN) / MNIST_STD
            # Global average pooling as a mean: ONNX-friendly and deterministic on CUDA.
            return self.head(self.features(x).mean(dim=(2, 3)))

    return DigitsCNN()


def join_members(paths: list[Path], out: Path, *, sample: np.ndarray) -> float:
    """One ONNX graph from member models sharing `input`: `logits` = log(mean of their softmaxes).

    Its softmax is then the members' mean probability, so a reader of the
    single model reads the ensemble unchanged. Returns the largest difference
    from the members' mean probability, computed apart, on `sample`; raises
    beyond EXPORT_TOLERANCE.
    """
    import onnx
    from onnx import compose, helper

    from boda.ai.digits import softmax
    from boda.ai.onnx import OnnxModel, OnnxOptions

    nodes, initializers, value_info, probabilities = [], [], [], []
    for k, path in enumerate(paths):
        member = compose.add_prefix(onnx.load(str(path)), f"m{k}/")
        graph = member.graph
        nodes.append(helper.make_node("Identity", [INPUT_NAME], [f"m{k}/{INPUT_NAME}"]))
        nodes.extend(graph.node)
        nodes.append(helper.make_node("Softmax", [f"m{k}/{OUTPUT_NAME}"], [f"m{k}/probabilities"], axis=1))
        initializers.extend(graph.initializer)
        value_info.extend(graph.value_info)
        probabilities.append(f"m{k}/probabilities")
    first = onnx.load(str(paths[0])).graph  # its unprefixed input and output are the ensemble's
    nodes.append(helper.make_node("Mean", probabilities, ["mean_probabilities"]))
    nodes.append(helper.make_node("Log", ["mean_probabilities"], [OUTPUT_NAME]))
    graph = helper.make_graph(nodes, "digits_ensemble", list(first.input), list(first.output),
                              initializer=initializers, value_info=value_info)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=onnx.load(str(paths[0])).ir_version)
    onnx.checker.check_model(model)
    tmp = out.with_name(out.name + ".tmp")
    onnx.save(model, str(tmp))
    cpu = OnnxOptions(providers=("CPUExecutionProvider",))
    x = to_input(sample)
    expected = np.mean([softmax(OnnxModel(p, cpu).run({INPUT_NAME: x})[0]) for p in paths], axis=0)
    actual = softmax(OnnxModel(tmp, cpu).run({INPUT_NAME: x})[0])
    return _keep_if_close(tmp, out, actual, expected, "Joined ONNX differs from its members")


def onnx_accuracy(path: Path, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of an exported model on ONNX Runtime: the figure of the file that ships."""
    from boda.ai.onnx import OnnxModel, OnnxOptions

    model = OnnxModel(path, OnnxOptions(providers=("CPUExecutionProvider",)))
    predicted = np.concatenate([model.run({INPUT_NAME: to_input(images[i : i + 1000])})[0].argmax(axis=1)
                                for i in range(0, len(images), 1000)])
    return float((predicted == labels).mean())


def parameter_count(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def to_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N,28,28) MNIST-style images -> the model's float32 (N,1,28,28) input."""
    return (np.asarray(images, np.float32) / 255.0)[:, None, :, :]


def evaluate(model: Any, images: np.ndarray, labels: np.ndarray, *, device: str) -> float:
    """Top-1 accuracy without augmentation."""
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), 1000):
            x = torch.from_numpy(to_input(images[start : start + 1000])).to(device)
            predicted = model(x).argmax(dim=1).cpu().numpy()
            correct += int((predicted == labels[start : start + 1000]).sum())
    return correct / len(images)


def export_onnx(model: Any, out: Path, *, sample: np.ndarray) -> float:
    """Export with a dynamic batch axis and check ONNX Runtime agrees with PyTorch.

    Returns the largest absolute logit difference on `sample`; raises if it
    exceeds EXPORT_TOLERANCE, so a bad export never replaces a good model.
    """
    import copy

    import torch

    from boda.ai.onnx import OnnxModel, OnnxOptions

    cpu_model = copy.deepcopy(model).cpu().eval()
    x = torch.from_numpy(to_input(sample))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with warnings.catch_warnings():
        # torch 2.13 calls the TorchScript exporter deprecated; it needs only
        # `onnx`, whereas the dynamo exporter also needs onnxscript.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            cpu_model, (x[:2],), str(tmp), dynamo=False, opset_version=OPSET,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        )
    with torch.no_grad():
        expected = cpu_model(x).numpy()
    actual = OnnxModel(tmp, OnnxOptions(providers=("CPUExecutionProvider",))).run({INPUT_NAME: x.numpy()})[0]
    return _keep_if_close(tmp, out, actual, expected, "ONNX export differs from PyTorch")


def _keep_if_close(tmp: Path, out: Path, actual: np.ndarray, expected: np.ndarray, problem: str) -> float:
    """Move `tmp` to `out` when its outputs match within EXPORT_TOLERANCE, so a bad file never replaces a good one."""
    max_diff = float(np.abs(actual - expected).max())
    if max_diff > EXPORT_TOLERANCE:
        tmp.unlink()
        raise RuntimeError(f"{problem} by {max_diff:.2e}")
    os.replace(tmp, out)
    return max_diff


def _fit(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int,
    seed: int,
    batch_size: int,
    device: str,
    report: Progress,
) -> None:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    dataset = TensorDataset(torch.from_numpy(np.array(images)), torch.from_numpy(labels.astype(np.int64)))
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    augment_rng = torch.Generator().manual_seed(seed + 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=3e-3, epochs=epochs, steps_per_epoch=len(loader)
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    total = epochs * len(loader)
    for epoch in range(epochs):
        model.train()
        running = 0.0
        for step, (x_u8, y) in enumerate(loader):
            x = augment(x_u8.to(device).float().div_(255).unsqueeze(1), augment_rng)
            loss = loss_fn(model(x), y.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += loss.item()
            if step % 50 == 0:
                done = (epoch * len(loader) + step + 1) / total
                report(0.95 * done, f"epoch {epoch + 1}/{epochs} loss {running / (step + 1):.4f}")
        report(0.95 * (epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs} done, loss {running / len(loader):.4f}")


def augment(x: Any, rng: Any) -> Any:
    """Random affine (rotation, scale, shear, shift) and stroke-width change.

    Parameters are drawn on the CPU from `rng`, so a seed gives the same
    augmentations on any device.
    """
    import math

    import torch
    import torch.nn.functional as F

    n = x.shape[0]

    def uniform(low: float, high: float) -> Any:
        return (torch.rand(n, generator=rng) * (high - low) + low).to(x.device)

    angle = uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG) * (math.pi / 180)
    scale = uniform(*SCALE_RANGE)
    shear = uniform(-MAX_SHEAR, MAX_SHEAR)
    shift = uniform(-MAX_SHIFT_PX, MAX_SHIFT_PX), uniform(-MAX_SHIFT_PX, MAX_SHIFT_PX)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # affine_grid maps output to input coordinates, so this is the inverse
    # transform: rotation and scale, then an x-shear that slants the strokes.
    theta = torch.stack(
        [
            torch.stack([cos, -sin + shear * cos, shift[0] / 14], dim=1),
            torch.stack([sin, cos + shear * sin, shift[1] / 14], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    # Thicker or thinner pen: blend towards a 3x3 dilation or erosion.
    change = torch.rand(n, generator=rng).to(x.device)
    amount = (torch.rand(n, generator=rng) * 0.7 + 0.3).to(x.device).view(n, 1, 1, 1)
    thicker = F.max_pool2d(x, 3, stride=1, padding=1)
    thinner = -F.max_pool2d(-x, 3, stride=1, padding=1)
    dilate = (change < STROKE_CHANGE_P / 2).view(n, 1, 1, 1)
    erode = ((change >= STROKE_CHANGE_P / 2) & (change < STROKE_CHANGE_P)).view(n, 1, 1, 1)
    x = torch.where(dilate, x + amount * (thicker - x), x)
    x = torch.where(erode, x + 0.7 * amount * (thinner - x), x)
    return x.clamp_(0, 1)


def _make_deterministic(torch: Any, seed: int, device: str) -> Callable[[], None]:
    """Seed everything and force deterministic kernels; returns a function undoing the flags."""
    if device.startswith("cuda"):
        # cuBLAS needs this before its first call to be deterministic.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    previous = torch.are_deterministic_algorithms_enabled()
    previous_benchmark = torch.backends.cudnn.benchmark
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False

    def restore() -> None:
        torch.use_deterministic_algorithms(previous)
        torch.backends.cudnn.benchmark = previous_benchmark

    return restore


def _device_name(torch: Any, device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"{device} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
