"""CLIP on ONNX Runtime equals open_clip: the real ViT-B-32 architecture, random weights, exported here.

No CLIP weights can be fetched on this machine, so parity is what proves the pipeline:
open_clip's own model (see tests/ai/openclip_reference.py for how it imports without
torchvision) is exported to ONNX once per module (about a minute on two busy cores: the
towers are 350 + 250 MB), and Boda's preprocessing, tokeniser, batching and normalisation
must give the embeddings open_clip gives for the same photos and sentences.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image
from skimage import data

from boda.ai import catalog
from boda.ai.catalog import locate
from boda.ai.clip import BpeTokenizer, ClipEmbedder, Preprocess
from boda.ai.onnx import OnnxOptions, fast_int8
from boda.ai.registry import Providers
from boda.core.errors import Unavailable
from tests.ai.openclip_reference import export_vit_b_32, open_clip, torchvision_preprocess
from tests.conftest import make_settings

VOCAB = catalog.CARRIED_DIR / "bpe_simple_vocab_16e6.txt.gz"
MODEL = "ViT-B-32-random"

SENTENCES = [
    "a photo of an astronaut",
    "a cat lying on a red blanket",
    "a cup of coffee on a saucer",
    "우주비행사 사진",
    "빨간 담요 위에 누워 있는 고양이",
    "받침 위의 커피 한 잔",
]
TOKEN_STRINGS = SENTENCES + [
    "",
    "   Hello,   WORLD!!  ",
    "I'm here, you're there; it's 2026-12-01 at 10:30.",
    "&amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt; caf\u00e9 na\u00efve",  # HTML unescaped twice, accents
    "🐱🐶 고양이와 개 🎉🎉 party",
    "서울의 밤 풍경, 한강 다리와 불빛 ✨",
    "ﾃｽﾄ 全角ＡＢＣ 日本語のテキスト 中文",
    "mojibake: Ã©tÃ© fixed by ftfy",
    " ".join(["a long caption about many things"] * 20),  # over 77 tokens: truncated, end marker kept
    "강아지 " * 60,
]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def photos() -> list[Image.Image]:
    gray = Image.fromarray(data.camera())  # mode L: converted to RGB after the crop, as open_clip does
    rgba = Image.fromarray(data.astronaut()).convert("RGBA").resize((300, 500))  # portrait, alpha
    return [Image.fromarray(data.astronaut()), Image.fromarray(data.chelsea()), Image.fromarray(data.coffee()),
            gray, rgba]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    root = tmp_path_factory.mktemp("clip_models")
    folder = root / "clip" / MODEL
    model = export_vit_b_32(folder)
    return model, root


@pytest.fixture(scope="module")
def embedder(exported: tuple[Any, Path]) -> ClipEmbedder:
    return ClipEmbedder(exported[1] / "clip" / MODEL, name=MODEL, vocab=VOCAB, batch_size=4)


def test_tokeniser_ids_equal_open_clips() -> None:
    ours = BpeTokenizer(VOCAB)(TOKEN_STRINGS)["text"]
    reference = open_clip().tokenize(TOKEN_STRINGS).numpy()
    assert ours.shape == (len(TOKEN_STRINGS), 77) and ours.dtype == np.int64
    np.testing.assert_array_equal(ours, reference)
    eot = 49407
    assert ours[-1, -1] == eot and ours[-2, -1] == eot  # truncated rows end with the end marker
    korean = BpeTokenizer(VOCAB).encode("빨간 자동차")
    assert len(korean) > 2 and open_clip().SimpleTokenizer().decode(korean).strip() == "빨간 자동차"


def test_preprocessing_crops_the_centre_of_the_shorter_side() -> None:
    chelsea = Image.fromarray(data.chelsea())  # 451 x 300: resized to 336 x 224, crop starts at x = 56
    expected = chelsea.resize((336, 224), Image.Resampling.BICUBIC).crop((56, 0, 280, 224))
    assert np.array_equal(np.asarray(Preprocess().resized(chelsea)), np.asarray(expected))
    for photo in photos():
        np.testing.assert_allclose(Preprocess()(photo), torchvision_preprocess(photo), atol=1e-6)


def test_image_embeddings_equal_open_clips(exported: tuple[Any, Path], embedder: ClipEmbedder) -> None:
    import torch

    model = exported[0]
    images = photos()
    ours = embedder.embed_images(images)  # batch_size 4: two ONNX runs, 4 + 1
    with torch.no_grad():
        pixels = torch.from_numpy(np.stack([torchvision_preprocess(i) for i in images]))
        reference = model.encode_image(pixels, normalize=True).numpy()
    assert ours.shape == (5, 512) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosine_rows(ours, reference).min() >= 0.9999
    # different photos give different vectors (random weights still separate them)
    assert np.max(ours[0] @ ours[1:3].T) < 0.9999
    one_by_one = np.concatenate([embedder.embed_images([i]) for i in images[:2]])
    assert cosine_rows(one_by_one, ours[:2]).min() >= 0.9999
    assert embedder.embed_images([]).shape == (0, 512)


def test_the_int8_image_tower_is_made_once_beside_the_model_and_agrees_with_fp32(
        exported: tuple[Any, Path], embedder: ClipEmbedder) -> None:
    folder = exported[1] / "clip" / MODEL
    copy = folder / "visual" / "model.int8.onnx"
    copy.unlink(missing_ok=True)
    images = photos()
    int8 = ClipEmbedder(folder, name=MODEL, vocab=VOCAB, batch_size=4, precision="int8")
    assert int8.int8 and not embedder.int8 and int8.key == embedder.key  # one index, either precision
    ours = int8.embed_images(images)
    assert copy.is_file() and copy.stat().st_size < (folder / "visual" / "model.onnx").stat().st_size / 3
    fp32 = embedder.embed_images(images)
    cos = cosine_rows(ours, fp32)
    assert cos.min() >= 0.999, cos  # INT8 weights: close to fp32, not equal
    assert np.abs(cos - 1).max() > 1e-7  # and it is really the quantised graph that ran
    made = copy.stat().st_mtime_ns
    again = ClipEmbedder(folder, name=MODEL, vocab=VOCAB, precision="int8")
    np.testing.assert_allclose(again.embed_images(images[1:2]), ours[1:2], atol=1e-6)  # batch-mates do not count
    assert copy.stat().st_mtime_ns == made  # reused, not made again
    auto = ClipEmbedder(folder, name=MODEL, vocab=VOCAB, precision="auto", options=OnnxOptions(threads=1))
    assert auto.int8 == fast_int8()


def test_a_model_folder_that_cannot_take_the_int8_copy_runs_fp32(exported: tuple[Any, Path], tmp_path: Path,
                                                                 embedder: ClipEmbedder) -> None:
    import shutil

    folder = tmp_path / MODEL
    shutil.copytree(exported[1] / "clip" / MODEL, folder, ignore=shutil.ignore_patterns("*.int8.onnx"))
    # A read-only folder cannot be made as root (root writes anyway): a folder where the copy would go fails alike.
    (folder / "visual" / "model.int8.onnx").mkdir()
    ours = ClipEmbedder(folder, name=MODEL, vocab=VOCAB, precision="int8").embed_images(photos()[:2])
    assert sorted(p.name for p in (folder / "visual").iterdir()) == ["model.int8.onnx", "model.onnx"]  # no leftovers
    assert cosine_rows(ours, embedder.embed_images(photos()[:2])).min() >= 0.99999  # fp32, as it is


def test_text_embeddings_equal_open_clips_in_english_and_korean(exported: tuple[Any, Path],
                                                                embedder: ClipEmbedder) -> None:
    import torch

    model = exported[0]
    ours = embedder.embed_texts(SENTENCES)
    with torch.no_grad():
        reference = model.encode_text(open_clip().tokenize(SENTENCES), normalize=True).numpy()
    assert ours.shape == (len(SENTENCES), 512)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cos = cosine_rows(ours, reference)
    assert cos[:3].min() >= 0.9999 and cos[3:].min() >= 0.9999  # English, Korean
    assert embedder.key == f"clip:{MODEL}" and embedder.dim == 512 and not embedder.multilingual


def test_registry_builds_clip_from_the_models_folder(exported: tuple[Any, Path], tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'boda.db'}"  # never opened: providers only read settings
    settings = make_settings(tmp_path, db_url, ai={"models_dir": exported[1], "threads": 1, "downloads": False,
                                                   "image_text_embedder": "clip", "clip_model": MODEL})
    clip = Providers(settings).get("image_text_embedder")
    assert isinstance(clip, ClipEmbedder) and clip.key == f"clip:{MODEL}"
    assert clip.embed_texts(["고양이"]).shape == (1, 512)

    missing = make_settings(tmp_path, db_url, ai={"models_dir": tmp_path / "none", "threads": 1, "downloads": False,
                                                  "clip_model": "ViT-B-32__openai"})
    with pytest.raises(Unavailable) as caught:
        Providers(missing).get("image_text_embedder", "clip")
    assert "BODA_AI__DOWNLOADS" in caught.value.message  # declared: downloadable once allowed


def test_immich_exports_are_declared_for_download_without_digest(tmp_path: Path) -> None:
    weights = catalog.declared("clip:ViT-B-32__openai:visual")
    assert weights.urls == ("https://huggingface.co/immich-app/ViT-B-32__openai/resolve/main/visual/model.onnx",)
    assert weights.sha256 == "" and weights.optional
    path = tmp_path / "clip" / "ViT-B-32__openai" / "visual" / "model.onnx"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"placed by hand")
    found = locate(weights, models_dir=tmp_path)
    assert found.path == path and found.origin == "models folder" and not found.verified
    assert "textual/tokenizer.json" in catalog.declared("clip:XLM-Roberta-Large-Vit-B-32:tokenizer").filename


def _mclip_like_textual(path: Path, table_values: np.ndarray | None = None) -> None:
    """A tiny text tower with the M-CLIP interface: input_ids + attention_mask -> masked sum of a table's rows."""
    values = np.zeros((250002, 4), np.float32) if table_values is None else table_values.astype(np.float32)
    table = helper.make_tensor("table", TensorProto.FLOAT, list(values.shape), values.ravel())
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["g"]),
         helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
         helper.make_node("Unsqueeze", ["m", "axes"], ["m3"]),
         helper.make_node("Mul", ["g", "m3"], ["gm"]),
         helper.make_node("ReduceSum", ["gm", "one"], ["embedding"], keepdims=0)],
        "mclip", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["n", 77]),
                  helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["n", 77])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", values.shape[1]])],
        [table, helper.make_tensor("axes", TensorProto.INT64, [1], [2]),
         helper.make_tensor("one", TensorProto.INT64, [1], [1])])
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_a_multilingual_text_tower_is_recognised_and_needs_its_tokenizer(tmp_path: Path) -> None:
    folder = tmp_path / "mclip"
    _mclip_like_textual(folder / "textual" / "model.onnx")
    (folder / "config.json").write_text('{"embed_dim": 4, "vision_cfg": {"image_size": 224}, '
                                        '"text_cfg": {"hf_tokenizer_name": "M-CLIP/XLM-Roberta-Large-Vit-B-32"}}')
    clip = ClipEmbedder(folder, name="mclip", vocab=VOCAB)
    assert clip.multilingual
    with pytest.raises(Unavailable) as caught:
        clip.embed_texts(["빨간 자동차"])
    # without the `tokenizers` package (not installed here) it says what is missing; with it, the file
    message = caught.value.message
    assert ("tokenizers" in message) if _no_tokenizers() else ("tokenizer not found" in message)


def _no_tokenizers() -> bool:
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        return True
    return False


def test_an_int32_text_input_as_immich_exports_it_is_fed_int32(tmp_path: Path) -> None:
    """Immich's open_clip text towers take `text` as int32; ids must arrive unchanged, whatever the dtype."""
    table = np.random.default_rng(0).normal(size=(49408, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "text"], ["g"]),
         helper.make_node("ReduceSum", ["g", "one"], ["embedding"], keepdims=0)],
        "text32", [helper.make_tensor_value_info("text", TensorProto.INT32, ["n", 77])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor("table", TensorProto.FLOAT, [49408, 4], table.ravel()),
         helper.make_tensor("one", TensorProto.INT64, [1], [1])])
    folder = tmp_path / "immich"
    (folder / "textual").mkdir(parents=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              str(folder / "textual" / "model.onnx"))
    (folder / "config.json").write_text('{"embed_dim": 4, "vision_cfg": {"image_size": 224}, '
                                        '"text_cfg": {"context_length": 77}}')
    (folder / "visual").mkdir()
    (folder / "visual" / "preprocess_cfg.json").write_text(
        '{"size": [256, 256], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "interpolation": "bicubic", '
        '"resize_mode": "shortest"}')
    clip = ClipEmbedder(folder, name="immich", vocab=VOCAB)
    ids = BpeTokenizer(VOCAB)(["빨간 자동차", "a red car"])["text"]
    expected = table[ids].sum(axis=1)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(clip.embed_texts(["빨간 자동차", "a red car"]), expected, rtol=1e-5, atol=1e-6)
    assert clip.preprocess.size == 256 and clip.preprocess.mean == (0.5, 0.5, 0.5)
    assert clip.pixels([Image.fromarray(data.coffee())]).shape == (1, 3, 256, 256)


def _trained_tokenizer(path: Path) -> None:
    """A real Hugging Face tokenizer.json with XLM-R's special tokens, trained here on Korean and English
    (XLM-R's own cannot be fetched on this machine; the file format and the library are the same)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>"]  # XLM-R's ids: <s>=0, <pad>=1, </s>=2
    tokenizer.train_from_iterator(SENTENCES * 5 + ["red car 빨간 자동차 a dog on the beach 해변의 강아지"] * 5,
                                  trainers.BpeTrainer(vocab_size=300, special_tokens=specials))
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A </s>",
                                                             special_tokens=[("<s>", 0), ("</s>", 2)])
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))


def test_a_multilingual_text_tower_reads_its_tokenizer_json_with_padding_mask_and_truncation(tmp_path: Path) -> None:
    from tokenizers import Tokenizer  # the clip-multilingual extra, part of dev: make test installs it

    folder = tmp_path / "mclip"
    _trained_tokenizer(folder / "textual" / "tokenizer.json")
    vocab = Tokenizer.from_file(str(folder / "textual" / "tokenizer.json")).get_vocab_size()
    table = np.random.default_rng(0).standard_normal((vocab, 8)).astype(np.float32)
    table[1] = 1000.0  # <pad>: any padding the mask let through would swamp the embedding
    _mclip_like_textual(folder / "textual" / "model.onnx", table)
    (folder / "config.json").write_text('{"embed_dim": 8, "vision_cfg": {"image_size": 224}, '
                                        '"text_cfg": {"hf_tokenizer_name": "M-CLIP/XLM-Roberta-Large-Vit-B-32"}}')
    clip = ClipEmbedder(folder, name="mclip", vocab=VOCAB, batch_size=2)
    texts = ["빨간 자동차", "a dog on the beach", "해변의 강아지 " * 60, "red car"]
    got = clip.embed_texts(texts)

    reference = Tokenizer.from_file(str(folder / "textual" / "tokenizer.json"))  # no padding, no truncation
    for row, text in zip(got, texts, strict=True):
        ids = reference.encode(text).ids
        assert ids[0] == 0 and ids[-1] == 2  # <s> ... </s>, as XLM-R's post-processor adds
        if len(ids) > 77:  # truncated to the context length as transformers does: the text, never </s>
            ids = ids[:76] + [2]
        expected = table[ids].sum(axis=0)
        np.testing.assert_allclose(row, expected / np.linalg.norm(expected), atol=1e-5)
    assert len(reference.encode(texts[2]).ids) > 77  # the long one really was cut
    assert clip.tokenizer(texts)["input_ids"].shape == (4, 77)
