"""The 3D Studio scorer: technical quality, the NIMA-style head, its bytes, and the fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from boda.ai import aesthetic
from boda.ai.catalog import locate
from boda.core.config import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"


def photo(name: str = "astronaut.jpg", side: int = 256) -> Image.Image:
    image = Image.open(FIXTURES / name).convert("RGB")
    image.thumbnail((side, side))
    return image


def synthetic(n: int, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, list[list[float]]]:
    """Features as image features are: a few latent factors mixed into many correlated values, plus
    noise; two factors carry the quality; each model rated by 3 noisy raters."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 6))
    x = latent @ rng.standard_normal((6, dim)) + 0.3 * rng.standard_normal((n, dim))
    quality = 5.5 + 2.0 * (0.8 * latent[:, 0] + 0.6 * latent[:, 1])
    ratings = [list(np.clip(np.round(q + rng.normal(0, 1.0, 3)), 1, 10)) for q in quality]
    return x, ratings


@pytest.fixture(scope="module")
def extractor(tmp_path_factory: pytest.TempPathFactory) -> aesthetic.EfficientNetFeatures:
    return aesthetic.EfficientNetFeatures(locate("efficientnet_lite0").path, tmp_path_factory.mktemp("cache"))


def test_technical_quality_orders_a_sharp_photo_above_its_blurred_copies() -> None:
    sharp = photo()
    scores = [aesthetic.technical_quality([sharp.filter(ImageFilter.GaussianBlur(r)) if r else sharp])
              for r in (0, 1.5, 4)]
    assert scores[0] > scores[1] > scores[2]
    assert scores[0] - scores[2] > 3  # not a rounding difference: a whole part of the scale
    assert all(1.0 <= s <= 10.0 for s in scores)


def test_brisque_mapping_is_clipped_and_decreasing() -> None:
    assert aesthetic.brisque_to_score(-20) == 10.0
    assert aesthetic.brisque_to_score(0) == 10.0
    assert aesthetic.brisque_to_score(50) == pytest.approx(5.5)
    assert aesthetic.brisque_to_score(100) == 1.0
    assert aesthetic.brisque_to_score(180) == 1.0
    assert aesthetic.brisque_score(Image.new("RGB", (64, 64), (90, 90, 90))) == aesthetic.UNMEASURABLE


def test_a_render_is_judged_on_its_subject_not_its_backdrop() -> None:
    backdrop = Image.new("RGB", (400, 300), (240, 240, 240))
    backdrop.paste(photo(side=120), (200, 100))
    crop = aesthetic.subject_crop(backdrop)
    assert crop.size[0] < 160 and crop.size[1] < 160  # the subject and its margin, not the frame
    transparent = Image.new("RGBA", (50, 50), (255, 0, 0, 0))
    assert aesthetic.as_rgb(transparent).getpixel((0, 0)) == (128, 128, 128)


def test_the_head_learns_an_ordering_that_holds_on_held_out_models() -> None:
    x, ratings = synthetic(90)
    rho = aesthetic.evaluate(x, ratings, folds=3)
    assert rho > 0.7
    shuffled = [ratings[i] for i in np.random.default_rng(5).permutation(len(ratings))]
    assert abs(aesthetic.evaluate(x, shuffled, folds=3)) < 0.3  # nothing leaks across folds


def test_the_head_predicts_a_distribution_with_a_spread() -> None:
    x, ratings = synthetic(60)
    head = aesthetic.fit_head(x, ratings, feature_key="test")
    means = [float(np.mean(r)) for r in ratings]
    best, worst = head.predict(x[int(np.argmax(means))]), head.predict(x[int(np.argmin(means))])
    assert best.mean > worst.mean + 1
    for d in (best, worst):
        assert len(d.probs) == 10 and sum(d.probs) == pytest.approx(1.0)
        assert 1.0 <= d.mean <= 10.0 and 0.5 < d.std < 4.5


def test_divisive_models_get_a_wider_spread() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((80, 8))
    divisive = x[:, 0] > 0  # one feature says: people disagree about this one
    ratings = [[1.0, 2.0, 9.0, 10.0] if d else [5.0, 6.0, 5.0, 6.0] for d in divisive]
    head = aesthetic.fit_head(x, ratings)
    spread = np.array([d.std for d in head.predict_many(x)])
    assert spread[divisive].mean() > spread[~divisive].mean() + 1.0


def test_training_is_deterministic_and_the_bytes_round_trip() -> None:
    x, ratings = synthetic(40)
    head = aesthetic.fit_head(x, ratings, feature_key="efficientnet_lite0:mlsp", hidden=16, seed=7)
    data = head.to_bytes()
    assert data == aesthetic.fit_head(x, ratings, feature_key="efficientnet_lite0:mlsp", hidden=16, seed=7).to_bytes()
    assert data != aesthetic.fit_head(x, ratings, feature_key="efficientnet_lite0:mlsp", hidden=16, seed=8).to_bytes()
    again = aesthetic.Head.from_bytes(data)
    assert again.feature_key == head.feature_key and again.meta == head.meta
    np.testing.assert_array_equal(again.probabilities(x), head.probabilities(x))
    with np.load(__import__("io").BytesIO(data), allow_pickle=False) as npz:  # plain arrays, no pickles
        assert sorted(npz.files) == ["b0", "b1", "info", "mean", "scale", "w0", "w1"]


def test_train_head_needs_enough_rated_models_and_keeps_its_heldout_figure() -> None:
    x, ratings = synthetic(aesthetic.MIN_RATED_MODELS + 10)
    assert aesthetic.train_head(x[:10], ratings[:10], feature_key="k") is None
    head = aesthetic.train_head(x, ratings, feature_key="k")
    assert head is not None and head.meta["models"] == len(ratings)
    assert head.meta["heldout_spearman"] > 0.5


def test_score_without_a_head_falls_back_to_technical_quality_and_says_so() -> None:
    views = [photo(), photo().filter(ImageFilter.GaussianBlur(3))]
    result = aesthetic.score(views)
    assert result.method == "technical"
    assert f"Fewer than {aesthetic.MIN_RATED_MODELS} rated models" in result.reason
    assert result.mean == pytest.approx(aesthetic.technical_quality(views))
    assert result.std > 1  # the sharp and the blurred view disagree
    assert sum(result.probs) == pytest.approx(1.0)


def test_efficientnet_features_feed_a_learned_score(extractor: aesthetic.EfficientNetFeatures) -> None:
    views = [photo(name, 224) for name in ("astronaut.jpg", "coffee.jpg")]
    vector = aesthetic.features(views, extractor)
    assert vector.shape == (extractor.dim,) and np.isfinite(vector).all()
    single = [aesthetic.features([v], extractor) for v in views]
    np.testing.assert_allclose(vector, (single[0] + single[1]) / 2, rtol=1e-5, atol=1e-6)

    rng = np.random.default_rng(0)
    x = vector + rng.normal(0, 0.1, (30, extractor.dim))
    head = aesthetic.fit_head(x, [[float(1 + i % 10)] for i in range(30)], feature_key=extractor.key, epochs=20)
    result = aesthetic.score(views, head, extractor=extractor)
    assert result.method == "learned" and "30 rated models" in result.reason
    assert 1 <= result.mean <= 10 and sum(result.probs) == pytest.approx(1.0)

    head.feature_key = "clip:ViT-B-32__openai"  # trained on other features: not applied to these
    other = aesthetic.score(views, head, extractor=extractor)
    assert other.method == "technical" and "train-scorer" in other.reason


def test_efficientnet_features_see_blur(extractor: aesthetic.EfficientNetFeatures) -> None:
    """Real features, held-out photos: a head trained on blur ladders of two photos orders a third's."""
    ladder = (0, 1, 2, 4)
    x, ratings, groups = [], [], []
    for name in ("astronaut.jpg", "coffee.jpg", "grace_hopper.jpg"):
        sharp = photo(name, 224)
        for strength, radius in enumerate(ladder):
            view = sharp.filter(ImageFilter.GaussianBlur(radius)) if radius else sharp
            x.append(aesthetic.features([view], extractor))
            ratings.append([10.0 - 3 * strength])
            groups.append(name)
    assert aesthetic.evaluate(np.array(x), ratings, folds=3, groups=groups) > 0.6


def test_extra_graph_output_is_written_once(extractor: aesthetic.EfficientNetFeatures, tmp_path: Path) -> None:
    source = locate("efficientnet_lite0").path
    first = aesthetic.EfficientNetFeatures.derived_model(source, tmp_path)
    stamp = first.stat().st_mtime_ns
    assert aesthetic.EfficientNetFeatures.derived_model(source, tmp_path) == first
    assert first.stat().st_mtime_ns == stamp
    assert first.stat().st_size > source.stat().st_size


def test_the_configured_extractor_is_efficientnet_unless_clip_is_chosen(tmp_path: Path) -> None:
    from boda.ai.registry import Providers
    from boda.core.errors import Unavailable

    settings = Settings(_env_file=None, data_dir=tmp_path / "data",  # type: ignore[call-arg]
                        ai={"models_dir": tmp_path / "models", "threads": 1, "downloads": False})
    chosen = aesthetic.choose_extractor(Providers(settings))
    assert chosen.key == "efficientnet_lite0:mlsp" and chosen.dim == 2176
    assert aesthetic.choose_extractor(Providers(settings)) is chosen  # one session per process

    clip = settings.model_copy(update={"ai": settings.ai.model_copy(update={"image_text_embedder": "clip"})})
    with pytest.raises(Unavailable):  # CLIP chosen but its weights are not in the models folder
        aesthetic.choose_extractor(Providers(clip))
