"""Photo to ingredients: what groceries a photo shows, as candidates the user confirms.

Four recognisers, each honest about what it is:

- `yolox_nano` (COCO): finds food it knows (banana, apple, orange, broccoli, carrot, sandwich, hot dog,
  pizza, donut, cake) with a box each; its score is objectness × class probability.
- `efficientnet_lite0` (ImageNet-1k) on the whole photo (`efficientnet_lite0`, no box) and on each box
  YOLOX found, food or container (`efficientnet_lite0:box`): ImageNet knows many more groceries (lemon,
  cucumber, bell pepper, cabbage, mushroom, fig ...) and a cup or bottle is where a drink is. Its score
  is a softmax probability over 1,000 classes, most of them not food.
- `household`, when the household has trained its own classifier (`household.py`): a linear head on
  the classifier's embeddings of the boxes its members confirmed or renamed, asked about each box and
  the whole photo. Its score is the head's probability over the household's own labels, and it names
  only what looks like what it was taught (`Prototypes`): a box unlike every example says nothing.
  Where it speaks for a box, its name keeps the box: the household taught it that name for such boxes.
- the chat model, when one is configured (`llm:<model>`): "list the ingredients as JSON"; its confidence
  is what the model says about itself, not a measured probability, and it gives no boxes.

Classes map to ingredients through `data/recognition/labels.csv` (into the Korean–English table); the
same ingredient named by several recognisers or boxes becomes one candidate that keeps the best
confidence, which recogniser said it, every box, and what each recogniser said (`sources`).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from boda.ai.heads import LinearHead, Prototypes
from boda.apps.pantry import shelf_life

LABELS = Path(__file__).parent / "data" / "recognition" / "labels.csv"
CONTAINERS = frozenset({"bottle", "cup", "bowl", "wine glass"})  # COCO things food is in: look inside
DETECT_THRESHOLD = 0.25
WHOLE_THRESHOLD = 0.08  # a softmax over 1,000 classes: 8 % on one grocery class is already a signal
BOX_THRESHOLD = 0.12
BOX_PAD = 0.1  # a crop a little larger than the box: classifiers were trained on uncropped objects
MAX_BOXES = 12
SAME_BOX = 0.6  # boxes overlapping this much (IoU) hold the same thing
DETECTOR, CLASSIFIER, HOUSEHOLD = "yolox_nano", "efficientnet_lite0", "household"

Box = tuple[int, int, int, int]  # x, y, w, h in pixels of the upright photo
Progress = Callable[[float, str], None]

LLM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ingredients": {"type": "array", "maxItems": 40, "items": {
        "type": "object",
        "properties": {"name_ko": {"type": "string", "maxLength": 64}, "name_en": {"type": "string", "maxLength": 64},
                       "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
        "required": ["name_ko", "name_en", "confidence"], "additionalProperties": False}}},
    "required": ["ingredients"], "additionalProperties": False,
}
LLM_PROMPT = ("List the food ingredients you can see in this photo of groceries or a fridge as JSON: for each, its "
              "Korean name (name_ko, as on a Korean shopping list), its English name (name_en) and how sure you "
              "are (confidence, 0 to 1). Leave out containers, dishes and anything you cannot see.")


@dataclass(frozen=True)
class Said:
    """What one recogniser said: its class (or the model's words), its confidence, and its box if any."""

    source: str
    label: str
    confidence: float
    box: Box | None = None


@dataclass
class Candidate:
    name_ko: str
    name_en: str
    category: str
    confidence: float
    source: str
    box: Box | None
    boxes: list[Box] = field(default_factory=list)
    sources: list[Said] = field(default_factory=list)
    known: bool = True  # in the ingredient table (a shelf-life date will follow)
    alternatives: list[dict[str, Any]] = field(default_factory=list)  # other names said for the same box

    def as_dict(self) -> dict[str, Any]:
        return {"name_ko": self.name_ko, "name_en": self.name_en, "category": self.category,
                "confidence": round(self.confidence, 4), "source": self.source,
                "box": list(self.box) if self.box else None, "boxes": [list(b) for b in self.boxes],
                "count": max(1, len(self.boxes)), "known": self.known, "alternatives": self.alternatives,
                "sources": [{"source": s.source, "label": s.label, "confidence": round(s.confidence, 4),
                             "box": list(s.box) if s.box else None} for s in self.sources]}


@dataclass(frozen=True)
class HouseholdHead:
    """A household's trained classifier, as recognition uses it (see household.py for how it is made)."""

    head: LinearHead
    prototypes: Prototypes
    version: int = 0

    def name(self, embedding: np.ndarray) -> tuple[str, float] | None:
        """The household's label for one embedding and the head's probability, or None when it looks like
        none of the household's examples (a linear head otherwise names one of its labels for anything)."""
        label, probability = self.head.predict(embedding[None])[0]
        return (label, probability) if self.prototypes.near(embedding[None], [label])[0] else None


@cache
def label_table() -> dict[tuple[str, str], shelf_life.Ingredient | None]:
    """(recogniser, class) → ingredient; None for food on purpose left out (no pantry entry)."""
    by_ko = {i.ko: i for i in shelf_life.ingredients()}
    table: dict[tuple[str, str], shelf_life.Ingredient | None] = {}
    with LABELS.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            table[(row["recogniser"], row["label"])] = by_ko[row["ko"]] if row["ko"] else None
    return table


def ingredient_for(recogniser: str, label: str) -> shelf_life.Ingredient | None:
    return label_table().get((recogniser, label))


def _crop(rgb: np.ndarray, box: Box) -> np.ndarray:
    x, y, w, h = box
    pad_x, pad_y = int(w * BOX_PAD), int(h * BOX_PAD)
    height, width = rgb.shape[:2]
    return np.ascontiguousarray(rgb[max(0, y - pad_y):min(height, y + h + pad_y),
                                    max(0, x - pad_x):min(width, x + w + pad_x)])


def detect(detector: Any, rgb: np.ndarray) -> tuple[list[tuple[shelf_life.Ingredient, Said]], list[Said]]:
    """YOLOX on the photo: (food mapped to ingredients, every box worth a closer look: food and containers)."""
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    found, boxes = [], []
    for det in detector.detect(bgr, threshold=DETECT_THRESHOLD):
        said = Said(DETECTOR, det.label, float(det.score), tuple(int(v) for v in det.box))  # type: ignore[arg-type]
        item = ingredient_for("coco", det.label)
        if item is not None:
            found.append((item, said))
        if item is not None or det.label in CONTAINERS or ("coco", det.label) in label_table():
            boxes.append(said)
    return found, boxes[:MAX_BOXES]


def classify(classifier: Any, rgb: np.ndarray, *, box: Box | None = None,
             threshold: float = WHOLE_THRESHOLD, top: int = 5) -> list[tuple[shelf_life.Ingredient, Said]]:
    """EfficientNet-Lite0 on the photo or one box: its food classes that map to ingredients."""
    image = _crop(rgb, box) if box is not None else rgb
    if image.size == 0:
        return []
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    source = f"{CLASSIFIER}:box" if box is not None else CLASSIFIER
    found = []
    for c in classifier.classify(bgr, top=top):
        item = ingredient_for("imagenet", c.label)
        if item is not None and c.score >= threshold:
            found.append((item, Said(source, c.label, float(c.score), box)))
    return found


def household_item(label: str) -> shelf_life.Ingredient:
    """The ingredient a household label names: the table's entry when it knows the name, else the name as is."""
    by_ko = {i.ko: i for i in shelf_life.ingredients()}
    if label in by_ko:
        return by_ko[label]
    life = shelf_life.lookup(label)
    if life.known and life.name_ko in by_ko:
        return by_ko[life.name_ko]  # type: ignore[index]
    return shelf_life.Ingredient(label, label, life.category or "other", "", (), None)


def by_household(household: HouseholdHead, classifier: Any, rgb: np.ndarray, boxes: list[Said]
                 ) -> list[tuple[shelf_life.Ingredient, Said]]:
    """The household's head on the whole photo and on every box worth a look."""
    found = []
    for box in [None, *(b.box for b in boxes)]:
        image = _crop(rgb, box) if box is not None else rgb
        if image.size == 0:
            continue
        named = household.name(classifier.features(np.ascontiguousarray(image[:, :, ::-1])))
        if named is not None:
            found.append((household_item(named[0]), Said(HOUSEHOLD, named[0], named[1], box)))
    return found


def llm_ingredients(chat: Any, image: bytes, *, max_side: int = 1024) -> tuple[str, list[tuple[Any, Said]]]:
    """The chat model's list, each name matched to the ingredient table where it can be (else kept as said)."""
    from boda.ai.llm import fit_image, run_sync

    result = run_sync(chat.chat([{"role": "user", "content": LLM_PROMPT}], images=[fit_image(image, max_side)],
                                json_schema=LLM_SCHEMA, temperature=0.0, max_tokens=600))
    source = f"llm:{getattr(chat, 'vision_model', '') or result.model or chat.model or chat.name}"[:64]
    found: list[tuple[Any, Said]] = []
    by_ko = {i.ko: i for i in shelf_life.ingredients()}
    for entry in result.data["ingredients"]:
        ko, en = entry["name_ko"].strip(), entry["name_en"].strip()
        if not ko and not en:
            continue
        life = shelf_life.lookup(ko) if ko else shelf_life.ShelfLife(query="", known=False)
        if not life.known and en:
            life = shelf_life.lookup(en)
        item: Any = by_ko.get(life.name_ko or "") if life.known else None
        if item is None:  # a name the table does not have: offered as the model said it
            item = shelf_life.Ingredient(ko or en, en or ko, life.category or "other", "", (), None)
        found.append((item, Said(source, f"{ko} / {en}".strip(" /"), float(entry["confidence"]))))
    return source, found


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    union = aw * ah + bw * bh - w * h
    return w * h / union if union else 0.0


def one_name_per_box(said: list[tuple[Any, Said]]) -> tuple[list[tuple[Any, Said]], dict[str, list[tuple[Any, Said]]]]:
    """A box holds one thing: where boxes overlap (IoU >= SAME_BOX), the most confident name keeps them and the
    other names become its alternatives (offered for renaming, not as ingredients of their own).

    YOLOX's class-aware suppression keeps an 'orange' and an 'apple' box on the same fruit, and the
    classifier names several classes in one box: without this, one orange is offered as three things.
    """
    # The household's own name for a box comes first: its members taught it that name for such boxes.
    boxed = sorted((p for p in said if p[1].box is not None),
                   key=lambda p: (p[1].source != HOUSEHOLD, -p[1].confidence))
    kept: list[tuple[Any, Said]] = [p for p in said if p[1].box is None]
    alternatives: dict[str, list[tuple[Any, Said]]] = {}
    winners: list[tuple[Any, Said]] = []
    for pair in boxed:
        item, one = pair
        owner = next((w for w in winners if iou(w[1].box, one.box) >= SAME_BOX), None)  # type: ignore[arg-type]
        if owner is None:
            winners.append(pair)
            kept.append(pair)
        elif owner[0].ko == item.ko:
            kept.append(pair)
        else:
            alternatives.setdefault(owner[0].ko, []).append(pair)
    # Where the household's name won a box, the whole-photo classifier's name for that box's look (one it
    # lost there, and no box's winner) is the same misreading: an alternative of the box, not an extra item.
    won = {w[0].ko for w in winners}
    for owner in (w for w in winners if w[1].source == HOUSEHOLD):
        lost = {item.ko for item, _ in alternatives.get(owner[0].ko, [])} - won
        moved = [p for p in kept if p[1].box is None and p[1].source == CLASSIFIER and p[0].ko in lost]
        kept = [p for p in kept if p not in moved]
        alternatives[owner[0].ko] = alternatives.get(owner[0].ko, []) + moved
    return kept, alternatives


def merge(said: list[tuple[Any, Said]], alternatives: dict[str, list[tuple[Any, Said]]] | None = None
          ) -> list[Candidate]:
    """One candidate per ingredient: the best confidence and who said it, every box, every voice."""
    table_ko = {i.ko for i in shelf_life.ingredients()}
    by_name: dict[str, Candidate] = {}
    for item, one in said:
        candidate = by_name.get(item.ko)
        if candidate is None:
            candidate = by_name[item.ko] = Candidate(item.ko, item.en, item.category, one.confidence,
                                                     one.source, one.box, known=item.ko in table_ko)
        elif one.confidence > candidate.confidence:
            candidate.confidence, candidate.source = one.confidence, one.source
            candidate.box = one.box or candidate.box
        candidate.sources.append(one)
        # One box per thing: the household's head names every box YOLOX drew, and two of them (an "apple"
        # and an "orange" on one fruit) may hold the same lime.
        if (one.box is not None and one.source in (DETECTOR, HOUSEHOLD)
                and all(iou(one.box, b) < SAME_BOX for b in candidate.boxes)):
            candidate.boxes.append(one.box)
        if candidate.box is None and one.box is not None:
            candidate.box = one.box
    for name, others in (alternatives or {}).items():
        candidate = by_name[name]
        for item, one in sorted(others, key=lambda p: -p[1].confidence):
            if item.ko != name and item.ko not in {a["name_ko"] for a in candidate.alternatives}:
                candidate.alternatives.append({"name_ko": item.ko, "name_en": item.en,
                                               "confidence": round(one.confidence, 4), "source": one.source,
                                               "label": one.label})
    for candidate in by_name.values():
        if not candidate.boxes and candidate.box is not None:
            candidate.boxes.append(candidate.box)
        candidate.sources.sort(key=lambda s: -s.confidence)
    return sorted(by_name.values(), key=lambda c: -c.confidence)


def recognise(image: Image.Image, *, detector: Any, classifier: Any, chat: Any = None, image_bytes: bytes | None = None,
              household: HouseholdHead | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Every recogniser on one upright RGB photo; the merged candidates, and per recogniser its time and raw words.

    A chat model that fails does not fail the whole: its error is reported beside the other recognisers'.
    """
    tell = progress or (lambda fraction, message: None)
    rgb = np.asarray(image.convert("RGB"))
    timings: dict[str, float] = {}
    said: list[tuple[Any, Said]] = []
    errors: dict[str, str] = {}

    tell(0.1, "detector")
    start = time.perf_counter()
    found, boxes = detect(detector, rgb)
    said += found
    timings[DETECTOR] = time.perf_counter() - start

    tell(0.35, "classifier")
    start = time.perf_counter()
    said += classify(classifier, rgb)
    for box in boxes:
        assert box.box is not None
        said += classify(classifier, rgb, box=box.box, threshold=BOX_THRESHOLD, top=3)
    timings[CLASSIFIER] = time.perf_counter() - start

    if household is not None and hasattr(classifier, "features"):
        start = time.perf_counter()
        said += by_household(household, classifier, rgb, boxes)
        timings[HOUSEHOLD] = time.perf_counter() - start

    if chat is not None and getattr(chat, "available", False) and image_bytes is not None:
        tell(0.6, "llm")
        start = time.perf_counter()
        try:
            source, named = llm_ingredients(chat, image_bytes)
            said += named
        except Exception as exc:  # noqa: BLE001 - reported, the offline recognisers' answer still stands
            source = f"llm:{getattr(chat, 'model', '')}"
            errors[source] = str(exc)[:300]
        timings[source] = time.perf_counter() - start
    kept, alternatives = one_name_per_box(said)
    candidates = merge(kept, alternatives)
    tell(1.0, "done")
    return {"width": image.width, "height": image.height,
            "candidates": [c.as_dict() for c in candidates],
            "seconds": {k: round(v, 3) for k, v in timings.items()}, "errors": errors}
