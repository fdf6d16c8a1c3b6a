"""The one place that touches ONNX Runtime.

Models load lazily and once (under a lock), so importing a provider costs
nothing and a server that never reads a digit never loads the digit model.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from boda.core.errors import Unavailable


def _providers(preferred: Sequence[str] | None) -> list[str]:
    available = ort.get_available_providers()
    # CUDA first when present: these defaults suit CPU-only machines and still
    # use a GPU worker when one is there.
    order = list(preferred or ("CUDAExecutionProvider", "CPUExecutionProvider"))
    chosen = [p for p in order if p in available]
    return chosen or ["CPUExecutionProvider"]


class OnnxModel:
    """A lazily loaded ONNX Runtime session with a fixed thread budget."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        intra_op_threads: int = 0,
        providers: Sequence[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.intra_op_threads = intra_op_threads
        self.providers = providers
        self._session: ort.InferenceSession | None = None
        self._lock = threading.Lock()

    @property
    def session(self) -> ort.InferenceSession:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._load()
        return self._session

    def _load(self) -> ort.InferenceSession:
        if not self.path.is_file():
            raise Unavailable(f"Model file not found: {self.path.name}", details={"path": str(self.path)})
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(str(self.path), options, providers=_providers(self.providers))

    @property
    def input_name(self) -> str:
        return str(self.session.get_inputs()[0].name)

    def run(self, inputs: np.ndarray | dict[str, np.ndarray]) -> list[np.ndarray]:
        feed = inputs if isinstance(inputs, dict) else {self.input_name: inputs}
        return [np.asarray(o) for o in self.session.run(None, feed)]
