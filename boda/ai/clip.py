"""CLIP on ONNX Runtime: photos and sentences in one space, for users who have CLIP weights.

A model is a folder in the layout Immich publishes its exports in (Hugging Face
`immich-app/<name>`), found at `<models_dir>/clip/<ai.clip_model>/` or downloaded there once
when the catalog declares it and downloads are allowed:

    config.json              open_clip model config: embed_dim, vision_cfg.image_size, text_cfg
    visual/model.onnx        image [N,3,S,S] float32 -> embedding [N,D]
    visual/preprocess_cfg.json   optional: size, mean, std, interpolation, resize_mode
    textual/model.onnx       text [N,77] int -> embedding [N,D]   (open_clip text towers)
                             or input_ids + attention_mask -> embedding (M-CLIP / XLM-R towers)
    textual/tokenizer.json   Hugging Face tokenizer, needed by the multilingual towers only

Preprocessing and tokenisation are open_clip's, reproduced exactly without importing
open_clip or torch (tests/ai/test_clip.py compares against both): resize the shorter side
with PIL bicubic, center crop, RGB, scale to [0,1], normalise with OpenAI's mean/std; the
byte-level BPE of OpenAI CLIP with its vocabulary carried in `boda/ai/weights/` (MIT).
Byte-level BPE covers every Unicode string, so Korean and emoji tokenise as open_clip does;
an English-trained text tower still understands Korean poorly, which is what the
multilingual towers are for.
"""

from __future__ import annotations

import gzip
import html
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from boda.ai.embed import PhotoFacts
from boda.ai.onnx import OnnxModel, OnnxOptions, int8_pays
from boda.ai.registry import Build, register
from boda.core.errors import InvalidInput, Unavailable

OPENAI_DATASET_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_DATASET_STD = (0.26862954, 0.26130258, 0.27577711)
CONTEXT_LENGTH = 77
BATCH_SIZE = 16  # images per ONNX run: amortises per-run overhead; activations stay ~100 MB for ViT-B/32
_INTERPOLATION = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR,
                  "nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}


# --- preprocessing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Preprocess:
    """open_clip's eval transform: Resize(size) + CenterCrop(size) (or squash), RGB, ToTensor, Normalize."""

    size: int = 224
    mean: tuple[float, float, float] = OPENAI_DATASET_MEAN
    std: tuple[float, float, float] = OPENAI_DATASET_STD
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"  # or "squash" (resize both sides to size, no crop)

    def __post_init__(self) -> None:
        if self.interpolation not in _INTERPOLATION:
            raise InvalidInput(f"Unsupported CLIP interpolation {self.interpolation!r}")
        if self.resize_mode not in ("shortest", "squash"):
            raise InvalidInput(f"Unsupported CLIP resize_mode {self.resize_mode!r}; shortest or squash")

    def resized(self, image: Image.Image) -> Image.Image:
        """The PIL image torchvision's Resize + CenterCrop make (same sizes, rounding and filter)."""
        w, h = image.size
        resample = _INTERPOLATION[self.interpolation]
        if self.resize_mode == "squash":
            return image.resize((self.size, self.size), resample) if (w, h) != (self.size, self.size) else image
        # torchvision _compute_resized_output_size: the shorter side becomes size, the longer int(size*long/short)
        if w <= h:
            new_w, new_h = self.size, int(self.size * h / w)
        else:
            new_w, new_h = int(self.size * w / h), self.size
        if (new_w, new_h) != (w, h):
            image = image.resize((new_w, new_h), resample)
        # torchvision center_crop on PIL: offsets int(round((dim - size) / 2.0)); crops never pad here
        top, left = int(round((new_h - self.size) / 2.0)), int(round((new_w - self.size) / 2.0))
        return image.crop((left, top, left + self.size, top + self.size))

    def __call__(self, image: Image.Image) -> np.ndarray:
        """(3, size, size) float32, normalised."""
        rgb = self.resized(image).convert("RGB")  # open_clip converts after cropping (_convert_to_rgb)
        x = np.asarray(rgb, dtype=np.float32) / np.float32(255.0)
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    @classmethod
    def from_model(cls, config: dict[str, Any], preprocess_cfg: dict[str, Any] | None) -> Preprocess:
        """From Immich's visual/preprocess_cfg.json when present, else config.json's vision_cfg."""
        cfg = preprocess_cfg or {}
        size = cfg.get("size") or config.get("vision_cfg", {}).get("image_size", 224)
        if isinstance(size, (list, tuple)):
            if len(set(size)) != 1:
                raise InvalidInput(f"Non-square CLIP input {size} is not supported")
            size = size[0]
        return cls(size=int(size), mean=tuple(cfg.get("mean", OPENAI_DATASET_MEAN)),  # type: ignore[arg-type]
                   std=tuple(cfg.get("std", OPENAI_DATASET_STD)),  # type: ignore[arg-type]
                   interpolation=str(cfg.get("interpolation", "bicubic")),
                   resize_mode=str(cfg.get("resize_mode", "shortest")))


# --- tokenisation --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable characters, so BPE never sees whitespace/control."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def _clean(text: str) -> str:
    """open_clip's default clean ('lower'): ftfy, unescape HTML twice, collapse whitespace, lower case."""
    import ftfy

    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).strip().lower()


class BpeTokenizer:
    """OpenAI CLIP's byte-level BPE (open_clip's SimpleTokenizer, clean='lower'), ids identical to open_clip."""

    CACHE_LIMIT = 100_000

    def __init__(self, vocab_path: Path, context_length: int = CONTEXT_LENGTH) -> None:
        import regex

        with gzip.open(vocab_path) as f:
            merges_text = f.read().decode("utf-8").split("\n")
        merges = [tuple(m.split()) for m in merges_text[1:49152 - 256 - 2 + 1]]
        vocab = list(bytes_to_unicode().values())
        vocab += [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in merges]
        special = ["<start_of_text>", "<end_of_text>"]
        vocab += special
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.sot, self.eot = self.encoder[special[0]], self.encoder[special[1]]
        self.context_length = context_length
        self._cache: dict[str, list[int]] = {t: [self.encoder[t]] for t in special}
        self._lock = threading.Lock()
        self.pattern = regex.compile(
            "|".join(special) + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", regex.IGNORECASE)

    def _bpe(self, token: str) -> list[int]:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        word: list[str] = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:], strict=False)}
            best = min(pairs, key=lambda p: self.ranks.get(p, 1 << 30))
            if best not in self.ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == best[0] and word[i + 1] == best[1]:
                    merged.append(best[0] + best[1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        ids = [self.encoder[w] for w in word]
        with self._lock:
            if len(self._cache) > self.CACHE_LIMIT:
                self._cache.clear()
            self._cache[token] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids without start/end markers."""
        ids: list[int] = []
        for piece in self.pattern.findall(_clean(text)):
            ids += self._bpe("".join(self.byte_encoder[b] for b in piece.encode("utf-8")))
        return ids

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """(N, context_length) int64, zero-padded; too long: truncated with the end marker kept last."""
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot, *self.encode(text), self.eot]
            if len(ids) > self.context_length:
                ids = ids[:self.context_length]
                ids[-1] = self.eot
            out[row, :len(ids)] = ids
        return {"text": out}


class HfTokenizer:
    """A Hugging Face `tokenizer.json` (the M-CLIP / XLM-R multilingual text towers), through `tokenizers`."""

    def __init__(self, path: Path, context_length: int = CONTEXT_LENGTH) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise Unavailable("This CLIP text tower needs its tokenizer.json read by the `tokenizers` package, "
                              "which is not installed (pip install tokenizers)") from exc
        if not path.is_file():
            raise Unavailable(f"CLIP tokenizer not found: {path}", details={"path": str(path)})
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.enable_truncation(max_length=context_length)
        # XLM-R pads with "<pad>" (id 1), BERT-style towers with "[PAD]"; the mask hides it either way
        pad = next((t for t in ("<pad>", "[PAD]", "<|endoftext|>") if self.tokenizer.token_to_id(t) is not None), None)
        self.tokenizer.enable_padding(length=context_length, pad_token=pad or "[PAD]",
                                      pad_id=self.tokenizer.token_to_id(pad) if pad else 0)
        self.context_length = context_length

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        encodings = self.tokenizer.encode_batch(list(texts))
        return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}


# --- the embedder --------------------------------------------------------------------------


def _normalised(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.float32(1e-12))


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Unavailable(f"Unreadable CLIP config {path}: {exc}", details={"path": str(path)}) from exc
    return value if isinstance(value, dict) else None


class ClipEmbedder:
    """Separate visual and text ONNX towers; batched; rows L2-normalised; `key` = "clip:<model name>"."""

    def __init__(self, folder: Path, *, name: str, vocab: Path, options: OnnxOptions | None = None,
                 batch_size: int = BATCH_SIZE, precision: str = "fp32") -> None:
        self.folder = Path(folder)
        self.name = name
        self.key = f"clip:{name}"
        config = _read_json(self.folder / "config.json")
        if config is None:
            raise Unavailable(f"CLIP model {name!r}: {self.folder / 'config.json'} is missing",
                              details={"folder": str(self.folder)})
        self.config = config
        self.dim = int(config["embed_dim"])
        self.preprocess = Preprocess.from_model(config, _read_json(self.folder / "visual" / "preprocess_cfg.json"))
        self.context_length = int(config.get("text_cfg", {}).get("context_length", CONTEXT_LENGTH))
        # The image tower does the indexing work; the text tower reads one query at a time and stays fp32.
        self.int8 = precision == "int8" or (precision == "auto" and int8_pays(options))
        self.visual = OnnxModel(self.folder / "visual" / "model.onnx", options, int8=self.int8)
        self.textual = OnnxModel(self.folder / "textual" / "model.onnx", options)
        self.vocab = vocab
        self.batch_size = max(1, batch_size)
        self._tokenizer: BpeTokenizer | HfTokenizer | None = None
        self._tokenizer_lock = threading.Lock()

    @property
    def multilingual(self) -> bool:
        """M-CLIP style towers take a Hugging Face tokenizer's ids and attention mask."""
        return "hf_tokenizer_name" in self.config.get("text_cfg", {}) or "attention_mask" in self._text_inputs()

    def _text_inputs(self) -> dict[str, str]:
        return {i.name: i.type for i in self.textual.session.get_inputs()}

    @property
    def tokenizer(self) -> BpeTokenizer | HfTokenizer:
        with self._tokenizer_lock:
            if self._tokenizer is None:
                if self.multilingual:
                    self._tokenizer = HfTokenizer(self.folder / "textual" / "tokenizer.json", self.context_length)
                else:
                    self._tokenizer = BpeTokenizer(self.vocab, self.context_length)
            return self._tokenizer

    def pixels(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(N, 3, S, S) float32: the visual tower's input."""
        size = self.preprocess.size
        if not images:
            return np.zeros((0, 3, size, size), np.float32)
        return np.stack([self.preprocess(image) for image in images])

    def embed_images(self, images: Sequence[Image.Image], facts: Sequence[PhotoFacts] | None = None) -> np.ndarray:
        out = np.zeros((len(images), self.dim), np.float32)
        # INT8 quantises activations with one scale per run: batched, a photo's vector would shift with its
        # batch-mates. One photo per run keeps it the photo's own (20 against 16 ms per photo, ViT-B/32).
        step = 1 if self.int8 else self.batch_size
        for start in range(0, len(images), step):
            batch = self.pixels(images[start:start + step])
            out[start:start + len(batch)] = self.visual.run(batch)[0]
        return _normalised(out) if len(images) else out

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        inputs = self._text_inputs()
        for start in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(texts[start:start + self.batch_size])
            if "text" in tokens and "text" not in inputs:  # open_clip tower exported under another input name
                tokens = {next(iter(inputs)): tokens["text"]}
            feed = {k: v.astype(np.int32 if inputs.get(k) == "tensor(int32)" else np.int64)
                    for k, v in tokens.items() if k in inputs}
            result = self.textual.run(feed)[0]
            out[start:start + len(result)] = result
        return _normalised(out)


# --- finding a model -----------------------------------------------------------------------


def model_folder(build: Build, name: str) -> Path:
    """`<models_dir>/clip/<name>/`, with its declared files found or downloaded into it first."""
    from boda.ai.catalog import WEIGHTS

    if "/" in name or "\\" in name or name in ("", ".", ".."):
        raise InvalidInput(f"Invalid CLIP model name {name!r}")
    folder = build.settings.models_dir / "clip" / name
    declared = [w for w in WEIGHTS.values() if w.name.startswith(f"clip:{name}:")]
    for weights in declared:
        build.weights(weights.name)  # the models folder copy, else a download into it (when allowed)
    if not (folder / "visual" / "model.onnx").is_file():
        known = sorted({w.name.split(":")[1] for w in WEIGHTS.values() if w.name.startswith("clip:")})
        raise Unavailable(f"CLIP model {name!r} not found in {folder}; fill that folder (Immich's layout) or "
                          f"allow downloads for one of: {', '.join(known)}", details={"folder": str(folder)})
    return folder


@register("image_text_embedder", "clip")
def _clip(build: Build) -> ClipEmbedder:
    name = build.settings.ai.clip_model
    return ClipEmbedder(model_folder(build, name), name=name, vocab=build.weights("clip_bpe_vocab"),
                        options=build.onnx_options(), precision=build.settings.ai.clip_precision)
