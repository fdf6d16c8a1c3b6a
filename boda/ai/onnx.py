"""The one place that touches ONNX Runtime.

Models load lazily and once (under a lock), so importing a provider costs
nothing and a server that never reads a digit never loads the digit model.
A model unused for `idle_unload_seconds` drops its session and loads again on
the next call: an LLM, a CLIP model and a 3D model cannot all stay in memory.
Each model bounds how many inferences run on it at once (`concurrency`): every
run holds its own activations, hundreds of MB for a large photo.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from boda.core.errors import Unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnnxOptions:
    threads: int = 0  # intra-op threads; 0: all cores
    concurrency: int = 2  # inferences on this model at once; more wait
    idle_unload_seconds: float = 0.0  # 0: keep the session for the life of the process
    providers: tuple[str, ...] | None = None


def _providers(preferred: Sequence[str] | None) -> list[str]:
    available = ort.get_available_providers()
    # CUDA first when present: these defaults suit CPU-only machines and still
    # use a GPU worker when one is there.
    order = list(preferred or ("CUDAExecutionProvider", "CPUExecutionProvider"))
    chosen = [p for p in order if p in available]
    return chosen or ["CPUExecutionProvider"]


def fast_int8() -> bool:
    """Whether this CPU has int8 dot products (x86 VNNI or AMX, Arm's dot product).

    Only there does ONNX Runtime's INT8 MatMul beat fp32: measured on CLIP's
    ViT-B/32, 2 cores, 2.9x faster with AVX-512 VNNI, a little slower with AVX2 alone.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core._multiarray_umath import __cpu_features__ as features
    return any(features.get(flag) for flag in ("AVX512VNNI", "AVX512_SPR", "ASIMDDP"))


def int8_pays(options: OnnxOptions | None) -> bool:
    """INT8 by default only where it is faster: a CPU with int8 dot products, and no GPU to run on."""
    return fast_int8() and _providers((options or OnnxOptions()).providers) == ["CPUExecutionProvider"]


def int8_copy(path: Path) -> Path:
    """A copy of `path` with its MatMul/Gemm weights in INT8 (dynamic quantisation), made once beside it.

    Made again when the original is newer. Written to a temporary file and
    renamed, so a reader never sees half a model and two makers do not clash.
    """
    target = path.with_name(f"{path.stem}.int8.onnx")
    if target.is_file() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    started = time.perf_counter()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".int8.onnx", dir=path.parent)
    os.close(fd)
    try:
        quantize_dynamic(path, tmp, op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    log.info("quantised %s to INT8 in %.1f s", path, time.perf_counter() - started)
    return target


class OnnxModel:
    """A lazily loaded ONNX Runtime session: bounded concurrency, unloaded when idle.

    With `int8`, the session runs an INT8 copy of the model (`int8_copy`), made
    on first load; when the model's folder cannot take it, the model runs as it is.
    """

    def __init__(self, path: str | os.PathLike[str], options: OnnxOptions | None = None, *,
                 int8: bool = False) -> None:
        self.path = Path(path)
        self.int8 = int8
        self.options = options or OnnxOptions()
        self._session: ort.InferenceSession | None = None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, self.options.concurrency))
        self._active = 0
        self._last_used = 0.0
        self._timer: threading.Timer | None = None
        self.loads = 0  # how many times a session was built (observable in tests and metrics)

    @property
    def loaded(self) -> bool:
        return self._session is not None

    @property
    def session(self) -> ort.InferenceSession:
        with self._lock:
            return self._session_locked()

    def _session_locked(self) -> ort.InferenceSession:
        if self._session is None:
            self._session = self._load()
            self.loads += 1
            self._last_used = time.monotonic()
            self._schedule_unload()
        return self._session

    def _load(self) -> ort.InferenceSession:
        if not self.path.is_file():
            raise Unavailable(f"Model file not found: {self.path.name}", details={"path": str(self.path)})
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.options.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = self.path
        if self.int8:
            try:
                path = int8_copy(self.path)
            except OSError as exc:  # a read-only folder: slower, not broken
                log.warning("no INT8 copy of %s (%s); running it as it is", self.path, exc)
        return ort.InferenceSession(str(path), options, providers=_providers(self.options.providers))

    @property
    def input_name(self) -> str:
        return str(self.session.get_inputs()[0].name)

    def run(self, inputs: np.ndarray | dict[str, np.ndarray]) -> list[np.ndarray]:
        with self._slots:
            with self._lock:
                session = self._session_locked()
                self._active += 1
            try:
                feed = inputs if isinstance(inputs, dict) else {str(session.get_inputs()[0].name): inputs}
                return [np.asarray(o) for o in session.run(None, feed)]
            finally:
                with self._lock:
                    self._active -= 1
                    self._last_used = time.monotonic()

    def unload(self) -> bool:
        """Drop the session unless a run is using it; True when it was dropped."""
        with self._lock:
            if self._active or self._session is None:
                return False
            self._session = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return True

    # One timer per loaded model, not one per run: when it fires it unloads if the model was
    # idle long enough, else waits again for the rest of the idle time.
    def _schedule_unload(self, delay: float | None = None) -> None:
        idle = self.options.idle_unload_seconds
        if idle <= 0:
            return
        self._timer = threading.Timer(idle if delay is None else delay, self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            if self._session is None:
                return
            left = self.options.idle_unload_seconds - (time.monotonic() - self._last_used)
            if self._active or left > 0:
                self._schedule_unload(max(left, 0.05))
                return
            self._session = None
