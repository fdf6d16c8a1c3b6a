"""3D Studio's aesthetic scorer: held-out rank correlation of the learned head, and scoring latency.

Run: .venv/bin/python bench/studio_scorer.py [--sources 16] [--max-side 384] [--folds 4] [--features FILE.npz]
Prints figures; asserts nothing.

WHAT THE DATA IS (read before quoting the figure). There is no public set of human 1-10 ratings of
3D models or of their renders here, and ratings invented for rendered primitive scenes would only
measure the procedure that invented them. So this is a SANITY CHECK OF THE LEARNING PATH, not a
measure of aesthetic taste: real photos (scikit-image's sample photos) degraded in graded strengths
(Gaussian blur, Gaussian noise, JPEG compression, low resolution, bad exposure; strengths 1-4, plus
the untouched photo), each image "rated" by 5 simulated raters as 10 - 2 x strength plus rater noise
(normal, sd 1, rounded, clipped to 1..10, seeded). Quality is ordered by construction within each
photo and degradation. Folds are grouped by source photo: every held-out image comes from a photo
the head never saw in any strength. It shows that frozen EfficientNet-Lite0 features + the NIMA
head + EMD training recover a quality ordering on unseen images; how well the head will follow
people's taste in 3D models can only be measured on their ratings (train-scorer reports it).

Printed: the learned head's pooled held-out Spearman (against the mean simulated rating), the
same for a head trained on shuffled ratings (should be near 0: nothing leaks across folds), the
BRISQUE technical quality on the same images (no training; the method shown before enough
ratings), and the latency of score() for 4 views of 512 px (features + head; technical).
"""

from __future__ import annotations

import argparse
import io
import platform
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boda.ai import aesthetic  # noqa: E402
from boda.ai.catalog import locate  # noqa: E402

SOURCES = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle", "hubble_deep_field", "immunohistochemistry",
           "retina", "camera", "moon", "coins", "brick", "grass", "gravel", "clock", "cell")
KINDS = ("blur", "noise", "jpeg", "lowres", "exposure")


def sample_photo(name: str, max_side: int) -> Image.Image:
    from skimage import data

    pixels = getattr(data, name)()
    if isinstance(pixels, tuple):  # stereo_motorcycle: (left, right, disparity)
        pixels = pixels[0]
    image = Image.fromarray(pixels).convert("RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def degrade(image: Image.Image, kind: str, strength: int, rng: np.random.Generator) -> Image.Image:
    """`strength` 0 (untouched) .. 4 (worst) of one kind of degradation."""
    if strength == 0:
        return image
    if kind == "blur":
        return image.filter(ImageFilter.GaussianBlur((0.8, 1.6, 3.0, 5.0)[strength - 1]))
    if kind == "noise":
        sigma = (8, 18, 32, 55)[strength - 1]
        noisy = np.asarray(image, np.float32) + rng.normal(0, sigma, (image.height, image.width, 3))
        return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    if kind == "jpeg":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=(30, 15, 8, 3)[strength - 1])
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if kind == "lowres":
        factor = (2, 4, 8, 14)[strength - 1]
        small = image.resize((max(8, image.width // factor), max(8, image.height // factor)), Image.Resampling.BOX)
        return small.resize(image.size, Image.Resampling.NEAREST)
    if kind == "exposure":
        factor = (1.7, 0.45, 2.6, 0.2)[strength - 1]  # over and under, each getting worse
        return ImageEnhance.Brightness(image).enhance(factor)
    raise ValueError(kind)


def dataset(sources: int, max_side: int, seed: int = 0):
    """(images, ratings per image, source photo per image, degradation kind per image, strength per image)."""
    rng = np.random.default_rng(seed)
    images, ratings, groups, kinds, strengths = [], [], [], [], []
    for name in SOURCES[:sources]:
        photo = sample_photo(name, max_side)
        ladder = [("none", 0)] + [(kind, s) for kind in KINDS for s in range(1, 5)]
        for kind, strength in ladder:
            images.append(degrade(photo, kind, strength, rng))
            quality = 10 - 2 * strength
            ratings.append([float(v) for v in np.clip(np.round(quality + rng.normal(0, 1, 5)), 1, 10)])
            groups.append(name)
            kinds.append(kind)
            strengths.append(strength)
    return images, ratings, groups, kinds, np.array(strengths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=len(SOURCES))
    parser.add_argument("--max-side", type=int, default=384)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--features", type=Path, help="cache the EfficientNet features of the data set here")
    parser.add_argument("--no-brisque", action="store_true", help="skip the BRISQUE baseline (slow: ~0.2 s/image)")
    args = parser.parse_args()

    import tempfile

    cache = Path(tempfile.mkdtemp(prefix="boda-scorer-"))
    extractor = aesthetic.EfficientNetFeatures(locate("efficientnet_lite0").path, cache)
    images, ratings, groups, kinds, strengths = dataset(args.sources, args.max_side)
    means = [float(np.mean(r)) for r in ratings]
    print(f"{platform.processor() or platform.machine()}; data: {len(images)} images = {args.sources} sample photos "
          f"x (1 untouched + {len(KINDS)} degradations x 4 strengths), 5 simulated raters each; "
          f"{args.folds} folds grouped by photo. A sanity check of the learning path, not of taste.")

    if args.features and args.features.is_file():
        x = np.load(args.features)["x"]
    else:
        start = time.perf_counter()
        x = np.stack([aesthetic.features([image], extractor) for image in images])
        print(f"features: {len(images)} images in {time.perf_counter() - start:.1f} s")
        if args.features:
            np.savez(args.features, x=x)

    start = time.perf_counter()
    predicted = aesthetic.heldout_predictions(x, ratings, args.folds, groups=groups)
    rho = aesthetic.spearman(predicted, means)
    elapsed = time.perf_counter() - start
    print(f"learned head (EfficientNet-Lite0 features), held-out Spearman vs mean rating: {rho:.3f} "
          f"({args.folds} heads trained in {elapsed:.1f} s)")
    print(f"  predicted means spread (sd) {np.std(predicted):.2f} against {np.std(means):.2f} for the ratings: "
          "a head trained on few examples pulls its scores toward the average")
    within = []  # each photo's untouched image and its 4 strengths of one degradation
    for name in sorted(set(groups)):
        for kind in KINDS:
            idx = [i for i, g in enumerate(groups) if g == name and kinds[i] in ("none", kind)]
            within.append(aesthetic.spearman(predicted[idx], -strengths[idx]))
    print(f"  mean Spearman within one photo's ladder of one degradation (5 strengths): {np.mean(within):.3f}")
    shuffled = [ratings[i] for i in np.random.default_rng(1).permutation(len(ratings))]
    control = aesthetic.evaluate(x, shuffled, args.folds, groups=groups)
    print(f"control, head trained on shuffled ratings: {control:.3f}")
    if not args.no_brisque:
        start = time.perf_counter()
        technical = [aesthetic.technical_quality([image]) for image in images]
        print(f"technical quality (BRISQUE -> 1..10, untrained), Spearman vs mean rating: "
              f"{aesthetic.spearman(technical, means):.3f} ({(time.perf_counter() - start) / len(images):.2f} s/image)")

    head = aesthetic.fit_head(x, ratings, feature_key=extractor.key)
    views = [sample_photo(name, 512) for name in SOURCES[:4]]
    aesthetic.score(views, head, extractor=extractor)  # warm: session loaded
    aesthetic.score(views[:1])
    for label, run in (("learned", lambda: aesthetic.score(views, head, extractor=extractor)),
                       ("technical", lambda: aesthetic.score(views))):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        print(f"score() latency, 4 views of 512 px, {label}: median {1000 * float(np.median(times)):.0f} ms")


if __name__ == "__main__":
    main()
