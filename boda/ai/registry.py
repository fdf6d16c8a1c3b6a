"""Providers by capability and name, chosen by settings, built once per process on first use.

A provider module registers a factory under a capability (the Protocol its
objects satisfy) and a name:

    @register("object_detector", "yolox_nano")
    def _yolox(build: Build) -> YoloxDetector:
        return YoloxDetector(build.weights("yolox_nano"), build.weights("coco_classes"), build.onnx_options())

`build.weights` finds a declared file (`boda.ai.catalog`: models folder, repository,
package, download); `build.onnx_options` carries the thread budget, the idle unload
time and the provider's own concurrency limit from settings.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from boda.core.config import Settings
from boda.core.errors import InvalidInput

if TYPE_CHECKING:
    from boda.ai.classify import ImageClassifier
    from boda.ai.detect import ObjectDetector
    from boda.ai.digits import DigitReader
    from boda.ai.faces import FaceDetector
    from boda.ai.generate3d import Generator3D
    from boda.ai.llm import ChatModel
    from boda.ai.onnx import OnnxOptions

Capability = Literal["face_detector", "object_detector", "image_classifier", "digit_reader",
                     "image_text_embedder", "text_encoder", "face_embedder", "ocr", "chat", "generator_3d"]
# Imported on first use, so the modules (and ONNX Runtime) load only in processes that need them.
PROVIDER_MODULES = ("boda.ai.faces", "boda.ai.digits", "boda.ai.classify", "boda.ai.detect",
                    "boda.ai.text_encoders", "boda.ai.concepts", "boda.ai.clip", "boda.ai.face_embed",
                    "boda.ai.ocr", "boda.ai.llm", "boda.ai.meshy", "boda.ai.hunyuan3d")


@dataclass(frozen=True)
class Build:
    """What a factory gets: settings, and helpers that apply them the same way for every provider."""

    settings: Settings
    name: str

    def weights(self, name: str) -> Path:
        from boda.ai.catalog import locate

        ai = self.settings.ai
        return locate(name, models_dir=self.settings.models_dir, download=ai.downloads).path

    def onnx_options(self, limit_key: str | None = None) -> OnnxOptions:
        from boda.ai.onnx import OnnxOptions

        ai = self.settings.ai
        concurrency = ai.provider_limits.get(limit_key or self.name, ai.provider_concurrency)
        return OnnxOptions(threads=inference_threads(self.settings), concurrency=concurrency,
                           idle_unload_seconds=ai.idle_unload_seconds)

    @property
    def cache_dir(self) -> Path:
        return self.settings.data_dir / "cache" / "models"


def usable_cores() -> int:
    """The cores this process may run on (taskset/cpuset aware where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def inference_threads(settings: Settings) -> int:
    """Threads one inference uses: `ai.threads`, or (0) the cores shared by the inferences that may run at once.

    ONNX Runtime's own default, every core for every session, oversubscribes the
    machine as soon as two worker threads infer at once: each run then waits on
    the others' threads (bench/threads.py measures it). Job threads of both queues
    and the requests allowed to hold images at once can all be inferring together.
    """
    if settings.ai.threads:
        return settings.ai.threads
    at_once = settings.jobs.workers + settings.jobs.heavy_workers + settings.ai.concurrency
    return max(1, usable_cores() // max(1, at_once))


def _set_opencv_threads(threads: int) -> None:
    import cv2

    # OpenCV's own pool is process-wide and also defaults to every core.
    cv2.setNumThreads(threads)


Factory = Callable[[Build], Any]
_factories: dict[Capability, dict[str, Factory]] = {}
_discovered = False
_discover_lock = threading.Lock()


def register(capability: Capability, name: str) -> Callable[[Factory], Factory]:
    def decorate(factory: Factory) -> Factory:
        _factories.setdefault(capability, {})[name] = factory
        return factory

    return decorate


def registered(capability: Capability) -> list[str]:
    """The names registered under a capability, in registration order."""
    _discover()
    return list(_factories.get(capability, {}))


def create(capability: Capability, name: str, settings: Settings) -> Any:
    """A provider from its factory, shared by the process: for providers built from other providers."""
    _discover()
    factory = _factories.get(capability, {}).get(name)
    if factory is None:
        raise InvalidInput(f"No {capability} named {name!r}; choose one of {registered(capability)}",
                           details={"capability": capability, "name": name})
    key = (capability, name, _fingerprint(settings))
    with _shared_lock:
        if key not in _shared:
            _shared[key] = factory(Build(settings, name))
        return _shared[key]


# Providers are built once per process for the same AI settings, whichever Runtime asks: a model
# is hundreds of MB and seconds to load, and a process (or a test session) may build several
# Runtimes. Reentrant: a factory may build the providers it is made of (concepts -> text encoder).
_shared: dict[tuple[str, str, str], Any] = {}
_shared_lock = threading.RLock()


def _fingerprint(settings: Settings) -> str:
    """What a provider is built from: the AI, LLM and 3D settings, the models folder, the thread budget."""
    llm = getattr(settings, "llm", None)
    g3d = getattr(settings, "generate3d", None)
    # model_dump_json masks SecretStr: a changed key must still build a new provider.
    keys = (g3d.meshy_api_key.get_secret_value(), g3d.hunyuan3d_api_key.get_secret_value()) if g3d else ()
    return "|".join([settings.ai.model_dump_json(), llm.model_dump_json() if llm is not None else "",
                     g3d.model_dump_json() if g3d is not None else "", str(hash(keys)),
                     str(settings.models_dir), str(inference_threads(settings))])


def _discover() -> None:
    global _discovered
    with _discover_lock:
        if not _discovered:
            for module in PROVIDER_MODULES:
                importlib.import_module(module)
            _discovered = True


class Providers:
    """One object per process: `get(capability, name)` builds a provider once and keeps it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._built: dict[tuple[Capability, str], Any] = {}

    def default_name(self, capability: Capability) -> str:
        """The settings' choice (`ai.<capability>`; `llm.provider` for chat, `generate3d.provider` for 3D), else the
        first registered."""
        if capability == "chat":
            chosen: Any = self.settings.llm.provider
        elif capability == "generator_3d":
            chosen = self.settings.generate3d.provider
        else:
            chosen = getattr(self.settings.ai, capability, None)
        return str(chosen) if chosen else registered(capability)[0]

    def get(self, capability: Capability, name: str | None = None) -> Any:
        _discover()
        key = (capability, name or self.default_name(capability))
        factory = _factories.get(capability, {}).get(key[1])
        if factory is None:
            raise InvalidInput(f"No {capability} named {key[1]!r}; choose one of {registered(capability)}",
                               details={"capability": capability, "name": key[1]})
        with self._lock:
            if not self._built:
                _set_opencv_threads(inference_threads(self.settings))
            if key not in self._built:
                self._built[key] = create(capability, key[1], self.settings)
            return self._built[key]

    def face_detector(self, name: str | None = None) -> FaceDetector:
        return cast("FaceDetector", self.get("face_detector", name))

    def object_detector(self, name: str | None = None) -> ObjectDetector:
        return cast("ObjectDetector", self.get("object_detector", name))

    def image_classifier(self, name: str | None = None) -> ImageClassifier:
        return cast("ImageClassifier", self.get("image_classifier", name))

    def chat(self, name: str | None = None) -> ChatModel:
        """The configured chat model; with `llm.provider = off` one whose `available` is False."""
        return cast("ChatModel", self.get("chat", name))

    def generator_3d(self, name: str | None = None) -> Generator3D:
        """A 3D generator by name (meshy, hunyuan3d, composer), else `generate3d.provider`; unconfigured ones have
        `available` False and say why."""
        return cast("Generator3D", self.get("generator_3d", name))

    @property
    def digit_reader(self) -> DigitReader:
        return cast("DigitReader", self.get("digit_reader"))
