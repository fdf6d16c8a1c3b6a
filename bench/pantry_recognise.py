"""Photo to ingredients: seconds per photo per recogniser, and precision/recall on a labelled, composed set.

The set (say it plainly): no openly licensed photo of groceries ships in the packages here, so the
photos are composed by tests/apps/pantry/photos.py: scikit-image's `coffee` (a real photo of a cup of
espresso, labelled 원두커피, the closest pantry entry), and fruit DRAWN as shaded spheres (orange, red
apple, lemon, lime) on a plain table, alone or beside the coffee photo, some tables empty. Drawn fruit is
far easier and far less varied than a real fridge: these figures say the pipeline works end to end and
how the recognisers compare, not how well Boda reads a real kitchen.

Scores: per photo, the set of ingredient names (Korean) offered vs the set drawn; a name counts once per
photo. Rows: each recogniser alone (everything it said), the merged candidates (one name per box) at any
confidence, at the confidence the page ticks by default (0.25) and at 0.5, and the ticked candidates
with the other names said for their boxes (the rename suggestions: recall if the user picks well).
The chat model is measured only with --llm-url (an OpenAI-compatible server).

Run: .venv/bin/python bench/pantry_recognise.py [--photos 40] [--llm-url URL --llm-model M --llm-key K]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from boda.ai.registry import Providers  # noqa: E402
from boda.apps.pantry import recognise  # noqa: E402
from boda.core.config import Settings  # noqa: E402
from tests.apps.pantry.photos import labelled, random_set  # noqa: E402

ROWS = ("yolox_nano", "efficientnet_lite0", "efficientnet_lite0:box")


def score(offered: list[set[str]], truth: list[set[str]]) -> tuple[float, float, int, int, int]:
    tp = sum(len(o & t) for o, t in zip(offered, truth, strict=True))
    fp = sum(len(o - t) for o, t in zip(offered, truth, strict=True))
    fn = sum(len(t - o) for o, t in zip(offered, truth, strict=True))
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0), tp, fp, fn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=40, help="random composed tables besides the 7 fixed photos")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--llm-url", default="")
    parser.add_argument("--llm-model", default="")
    parser.add_argument("--llm-key", default="none")
    args = parser.parse_args()

    llm = {"provider": "openai", "base_url": args.llm_url, "model": args.llm_model, "api_key": args.llm_key} \
        if args.llm_url else {}
    settings = Settings(_env_file=None, data_dir=Path(tempfile.mkdtemp()),  # type: ignore[call-arg]
                        ai={"threads": args.threads, "downloads": False}, **({"llm": llm} if llm else {}))
    providers = Providers(settings)
    detector, classifier = providers.object_detector(), providers.image_classifier()
    chat = providers.chat() if llm else None
    photos = labelled() + random_set(args.photos)
    recognise.recognise(photos[0][1], detector=detector, classifier=classifier)  # load the models first

    seconds: dict[str, list[float]] = {}
    per_source: dict[str, list[set[str]]] = {}
    merged: dict[float, list[set[str]]] = {0.0: [], 0.25: [], 0.5: []}
    truth = []
    with_alternatives: list[set[str]] = []
    for _, image, labels in photos:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        start = time.perf_counter()
        result = recognise.recognise(image, detector=detector, classifier=classifier, chat=chat,
                                     image_bytes=buffer.getvalue())
        seconds.setdefault("all", []).append(time.perf_counter() - start)
        for name, value in result["seconds"].items():
            seconds.setdefault(name, []).append(value)
        truth.append(labels)
        sources = {s for c in result["candidates"] for s in (x["source"] for x in c["sources"])}
        for source in (*ROWS, *sorted(s for s in sources if s.startswith("llm:"))):
            per_source.setdefault(source, [])
        for source, offered in per_source.items():  # what each recogniser said, before one name per box
            offered.append({c["name_ko"] for c in result["candidates"]
                            if any(s["source"] == source for s in c["sources"])}
                           | {a["name_ko"] for c in result["candidates"] for a in c["alternatives"]
                              if a["source"] == source})
        with_alternatives.append({c["name_ko"] for c in result["candidates"] if c["confidence"] >= 0.25}
                                 | {a["name_ko"] for c in result["candidates"] if c["confidence"] >= 0.25
                                    for a in c["alternatives"]})
        for floor, offered in merged.items():
            offered.append({c["name_ko"] for c in result["candidates"] if c["confidence"] >= floor})

    fixed = len(labelled())
    print(f"photo to ingredients: {len(photos)} composed photos ({fixed} fixed + {args.photos} random tables; "
          f"{sum(len(t) for t in truth)} labelled ingredients, {sum(not t for t in truth)} empty tables), "
          f"{args.threads} thread(s)")
    print("\nseconds per photo (mean / p95):")
    for name, values in seconds.items():
        p95 = sorted(values)[max(0, round(0.95 * len(values)) - 1)]
        label = {"all": "all recognisers", "efficientnet_lite0": "efficientnet_lite0 (+ boxes)"}.get(name, name)
        print(f"  {label:<42} {statistics.mean(values):.3f} / {p95:.3f}")
    print("\nprecision / recall (per photo, ingredient names):")
    for source, offered in per_source.items():
        p, r, tp, fp, fn = score(offered, truth)
        print(f"  {source + ' alone':<42} P {p:.2f}  R {r:.2f}   (tp {tp}, fp {fp}, fn {fn})")
    for floor, offered in merged.items():
        p, r, tp, fp, fn = score(offered, truth)
        row = f"merged, confidence >= {floor:.2f}"
        print(f"  {row:<42} P {p:.2f}  R {r:.2f}   (tp {tp}, fp {fp}, fn {fn})")
    p, r, tp, fp, fn = score(with_alternatives, truth)
    print(f"  {'merged >= 0.25, with rename suggestions':<42} P {p:.2f}  R {r:.2f}   (tp {tp}, fp {fp}, fn {fn})")
    missed: dict[str, int] = {}
    for offered, labels in zip(merged[0.25], truth, strict=True):
        for name in labels - offered:
            missed[name] = missed.get(name, 0) + 1
    print("\nmissed at 0.25, by ingredient:", ", ".join(f"{k} {v}" for k, v in sorted(missed.items())) or "none")


if __name__ == "__main__":
    main()
