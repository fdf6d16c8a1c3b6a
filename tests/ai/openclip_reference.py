"""The test reference: open_clip's real CLIP architecture (random weights), importable without torchvision.

open_clip_torch 3.3.0 imports torchvision at module level in two places that the CLIP
model itself never uses: `open_clip/utils.py` (`torchvision.ops.misc.FrozenBatchNorm2d`,
only for freezing ResNet towers) and `open_clip/transform.py` (torchvision transforms,
only for building training/eval pipelines). torchvision has no CPU wheel on this machine
(it would pull a CUDA torch), so before importing open_clip we register stand-in modules
holding exactly those names. Any use of a stand-in raises, so nothing of the reference
silently runs through a fake: the model code, weights init, tokenizer and `encode_*` are
open_clip's own. Image preprocessing for the reference is `torchvision_preprocess` below,
a transcription of what torchvision's Resize/CenterCrop/ToTensor/Normalize do on PIL images.
Used only by tests and bench, never by Boda.
"""

from __future__ import annotations

import enum
import sys
import types
import warnings
from typing import Any

import numpy as np
from PIL import Image


class _Unavailable:
    """A torchvision name open_clip imports but the CLIP model never calls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"{type(self).__name__} comes from a torchvision stand-in (tests only)")


def _install_torchvision_stand_in() -> None:
    if "torchvision" in sys.modules:
        return
    names = {
        "torchvision.ops.misc": ["FrozenBatchNorm2d"],
        "torchvision.transforms": ["Normalize", "Compose", "RandomResizedCrop", "InterpolationMode", "ToTensor",
                                   "Resize", "CenterCrop", "ColorJitter", "Grayscale"],
        "torchvision.transforms.functional": [],
    }
    for package in ("torchvision", "torchvision.ops"):
        sys.modules[package] = types.ModuleType(package)
    for module_name, attrs in names.items():
        module = types.ModuleType(module_name)
        for attr in attrs:
            setattr(module, attr, type(attr, (_Unavailable,), {}))
        if module_name == "torchvision.transforms":  # open_clip reads its members as default arguments
            module.InterpolationMode = enum.Enum(  # type: ignore[attr-defined]
                "InterpolationMode", {n: n.lower() for n in ("NEAREST", "BILINEAR", "BICUBIC", "LANCZOS")})
        sys.modules[module_name] = module
    sys.modules["torchvision"].ops = sys.modules["torchvision.ops"]  # type: ignore[attr-defined]
    sys.modules["torchvision.ops"].misc = sys.modules["torchvision.ops.misc"]  # type: ignore[attr-defined]
    sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]  # type: ignore[attr-defined]
    sys.modules["torchvision.transforms"].functional = sys.modules[  # type: ignore[attr-defined]
        "torchvision.transforms.functional"]


def open_clip() -> Any:
    _install_torchvision_stand_in()
    import open_clip as module

    return module


OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)  # open_clip.constants.OPENAI_DATASET_MEAN
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def torchvision_preprocess(image: Image.Image, size: int = 224) -> np.ndarray:
    """torchvision 0.2x on a PIL image: Resize(size, BICUBIC), CenterCrop(size), RGB, ToTensor, Normalize.

    Resize with an int resizes the shorter side to `size` and the longer to int(size * long / short)
    (torchvision.transforms.functional._compute_resized_output_size), through PIL's resize;
    CenterCrop offsets are int(round((dim - size) / 2.0)).
    """
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) != (w, h):
        image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    image = image.crop((left, top, left + size, top + size)).convert("RGB")
    x = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return (x - np.array(OPENAI_MEAN, np.float32)[:, None, None]) / np.array(OPENAI_STD, np.float32)[:, None, None]


def export_vit_b_32(folder: Any, seed: int = 0) -> Any:
    """ViT-B-32 with random weights, exported the way Immich lays out its models; returns the torch model."""
    import json
    from pathlib import Path

    import torch

    oc = open_clip()
    torch.manual_seed(seed)
    model = oc.create_model("ViT-B-32", pretrained=None).eval()
    folder = Path(folder)
    (folder / "visual").mkdir(parents=True, exist_ok=True)
    (folder / "textual").mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(oc.get_model_config("ViT-B-32")))

    class Visual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.model.encode_image(image)

    class Textual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, text: torch.Tensor) -> torch.Tensor:
            return self.model.encode_text(text)

    # nn.MultiheadAttention's inference fast path (aten::_native_multi_head_attention) has no ONNX export;
    # the ordinary path computes the same attention.
    torch.backends.mha.set_fastpath_enabled(False)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and legacy-exporter notices, about shapes fixed by design
        torch.onnx.export(Visual(), (torch.zeros(1, 3, 224, 224),), str(folder / "visual" / "model.onnx"),
                          input_names=["image"], output_names=["embedding"],
                          dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}}, opset_version=17,
                          dynamo=False)
        torch.onnx.export(Textual(), (torch.zeros(1, 77, dtype=torch.long),), str(folder / "textual" / "model.onnx"),
                          input_names=["text"], output_names=["embedding"],
                          dynamic_axes={"text": {0: "batch"}, "embedding": {0: "batch"}}, opset_version=17,
                          dynamo=False)
    return model
