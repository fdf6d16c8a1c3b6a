"""The offline image-text backend: what the carried models see, said in English, embedded multilingually.

No CLIP weights exist on an air-gapped machine, but EfficientNet-Lite0 (1,000 ImageNet
classes) and YOLOX-nano (80 COCO objects with boxes) do. This backend turns one photo into
weighted *concepts* - short English sentences such as "a tabby cat", "two people",
"a red motorcycle", "a beach by the sea", "text: OPEN 24 HOURS", "Alice" - and embeds them
with a multilingual `TextEncoder` (`boda.ai.text_encoders`). A Korean query ("빨간 오토바이")
lands near the English concept ("a red motorcycle") because the encoder was trained on
translations: no hand-written Korean table is needed.

Where the vocabulary comes from (and why each part is there):
- ImageNet classes (top 5 above 3%): fine-grained objects, animals, food, some scenes.
- Broad groups of ImageNet classes by index range ("a dog" for the 118 dog breeds):
  users search "dog", not "Blenheim spaniel", and a sentence encoder does not know every breed.
- ImageNet's scene classes ("seashore" -> "a beach by the sea"), and pixel cues measured
  robustly: a dark photo (night), a black-and-white photo, blue sky at the top, greenery.
- COCO objects with counts ("two people", "three cups"), weighted by score and size.
- ImageNet classes of the strongest boxed objects, each classified on its own crop: the
  whole photo's classes name only its main subject, so a cup beside a cat was "a cup", never
  "espresso" (bench/album_quality.py, top 5: English 0.88 -> 0.91, Korean 0.84 -> 0.85;
  first held-out set 0.94 -> 0.96 and 0.81 -> 0.83; second 0.80 -> 0.78 and 0.63 -> 0.67),
  for ~10 % of the seeing time. Like the whole photo's classes, a crop's can become an automatic
  tag and a caption word: a wrong guess on a crop is seen, and a user can remove the tag.
- The dominant colour of each main object, from the middle of its box ("a red car"), and
  of the photo's centre when no object was boxed ("an orange tabby cat").
- What the caller knows (`PhotoFacts`): text read in the photo, faces, people's names.

A photo's vector is the weighted mean of its concept-sentence embeddings, normalised.
bench/album_quality.py measures it against one descriptive document of the same concepts:
the mean finds more in the top 5 (0.91 / 0.85 English / Korean against 0.86 / 0.81), and each
recurring sentence is embedded once per process (a cache), which a per-photo document cannot be.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from boda.ai.classify import Classification, EfficientNetClassifier
from boda.ai.detect import Detection, YoloxDetector
from boda.ai.embed import Concept, Description, PhotoFacts, TextEncoder
from boda.ai.registry import Build, create, register, registered

VERSION = "v2"  # v2: classes of boxed objects (regions); a new version re-indexes in the background
CLASS_MIN = 0.03  # ImageNet classes below this probability are noise
DETECTION_MIN = 0.35
MAX_CLASSES = 5
MAX_COLOURED = 3  # objects whose colour is named
MAX_REGIONS = 3  # the strongest boxes, each classified on its own crop
REGION_SHARE = (0.03, 0.6)  # smaller: too few pixels for 224x224; larger: the whole photo's classes say it
REGION_MARGIN = 0.1  # context around a box, as ImageNet's photos have around their object
REGION_CLASS_MIN = 0.1
REGION_WEIGHT = 0.6  # below the whole photo's classes: a crop is seen with less context
TEXT_WEIGHT = 1.5  # words written in a photo are what a user remembers and types exactly

# Broad groups over ImageNet-1k index ranges (inclusive), for the words people search with.
GROUPS: tuple[tuple[int, int, str], ...] = (
    (0, 6, "a fish"), (389, 397, "a fish"), (7, 24, "a bird"), (80, 100, "a bird"), (127, 146, "a bird"),
    (25, 32, "a frog or salamander"), (33, 37, "a turtle"), (38, 48, "a lizard"), (52, 68, "a snake"),
    (72, 77, "a spider"), (118, 126, "a crab or lobster"), (147, 150, "a sea animal"),
    (151, 268, "a dog"), (269, 280, "a wolf or fox"), (281, 285, "a cat"), (286, 293, "a big wild cat"),
    (294, 297, "a bear"), (300, 326, "an insect"), (330, 332, "a rabbit"),
    (339, 339, "a horse"), (339, 353, "a hoofed animal"),
    (365, 382, "a monkey or ape"), (385, 386, "an elephant"),
    (407, 407, "a vehicle"), (436, 436, "a car"), (468, 468, "a car"), (511, 511, "a car"), (609, 609, "a car"),
    (627, 627, "a car"), (656, 656, "a car"), (661, 661, "a car"), (717, 717, "a car"), (751, 751, "a car"),
    (817, 817, "a car"), (665, 665, "a motorcycle"), (670, 670, "a motorcycle"),
    (444, 444, "a bicycle"), (671, 671, "a bicycle"),
    (484, 484, "a boat"), (510, 510, "a ship"), (554, 554, "a boat"), (576, 576, "a boat"), (625, 625, "a boat"),
    (628, 628, "a ship"), (724, 724, "a ship"), (780, 780, "a boat"), (814, 814, "a boat"), (833, 833, "a boat"),
    (867, 867, "a truck"), (864, 864, "a truck"), (569, 569, "a truck"), (555, 555, "a truck"),
    (404, 404, "an airplane"), (895, 895, "an airplane"), (908, 908, "an airplane"), (812, 812, "a rocket"),
    (657, 657, "a rocket"), (466, 466, "a train"), (547, 547, "a train"), (565, 565, "a train"),
    (820, 820, "a train"), (829, 829, "a tram"), (779, 779, "a bus"), (874, 874, "a bus"), (654, 654, "a bus"),
    (923, 969, "food"), (987, 987, "food"), (998, 998, "food"),
    (504, 504, "a cup of coffee"), (967, 968, "a cup of coffee"),
    (883, 883, "a vase with flowers"), (985, 985, "a flower"), (738, 738, "a flower pot"),
    (445, 445, "a swimsuit"), (608, 608, "clothes"), (610, 610, "clothes"), (841, 841, "clothes"),
    (652, 652, "a soldier in uniform"), (834, 834, "a suit and tie"), (457, 457, "a bow tie"),
    (759, 759, "a camera"), (732, 732, "a camera"), (872, 872, "a camera tripod"),
    (917, 917, "a comic book"), (921, 921, "a book"), (454, 454, "books"), (624, 624, "books"),
    (851, 851, "a television"), (664, 664, "a computer monitor"), (782, 782, "a screen"),
    (527, 527, "a computer"), (590, 590, "a computer"), (620, 620, "a laptop"), (681, 681, "a laptop"),
    (487, 487, "a phone"), (707, 707, "a phone"), (528, 528, "a phone"),
    (409, 409, "a clock"), (530, 530, "a clock"), (892, 892, "a clock"), (826, 826, "a watch"),
)

# ImageNet classes that say where the photo was taken.
SCENES: dict[int, str] = {
    970: "mountains with snow", 972: "a cliff", 973: "a coral reef under the sea", 974: "a geyser",
    975: "a lake", 976: "a rocky coast by the sea", 977: "a beach by the sea", 978: "a beach by the sea",
    979: "a valley in the mountains", 980: "a volcano", 449: "a boathouse by the water", 460: "a breakwater by the sea",
    525: "a dam", 536: "a dock by the sea", 839: "a bridge", 888: "a bridge", 821: "a bridge",
    698: "a palace", 483: "a castle", 832: "a temple", 668: "a mosque", 497: "a church", 442: "a bell tower",
    580: "a greenhouse", 762: "a restaurant", 425: "a barn", 500: "a cliff dwelling", 509: "a shop",
    582: "a grocery store", 865: "a toy shop", 424: "a barber shop", 454: "a bookshop", 727: "a planetarium",
    437: "a lighthouse", 733: "a pole", 919: "a street sign", 920: "traffic lights on a street",
    825: "a stone wall", 912: "a fence", 716: "a fence", 703: "a park bench", 795: "skiing in the snow",
    802: "a snowmobile in the snow", 803: "a snowplow in the snow",
    618: "a ladle in a kitchen", 567: "a frying pan in a kitchen", 760: "a kitchen fridge",
    853: "a thatched roof house", 562: "a fountain", 812: "space",
}

COUNTS = {1: "a", 2: "two", 3: "three", 4: "four", 5: "five"}
PLURALS = {"person": "people", "bus": "buses", "wine glass": "wine glasses", "knife": "knives",
           "sheep": "sheep", "skis": "skis", "scissors": "scissors", "mouse": "mice", "couch": "couches",
           "bench": "benches", "sandwich": "sandwiches", "toothbrush": "toothbrushes", "dining table": "tables"}

# Colour names (English, Korean adjective) for hue bins in OpenCV's 0-180 hue.
COLOURS_KO = {"red": "빨간", "orange": "주황색", "yellow": "노란", "green": "초록색", "blue": "파란",
              "purple": "보라색", "pink": "분홍색", "brown": "갈색", "black": "검은", "white": "흰",
              "gray": "회색"}


@dataclass(frozen=True)
class Region:
    """A boxed object and the ImageNet classes of its crop."""

    detection: Detection
    classes: list[Classification]


def region_detections(detections: Sequence[Detection], height: int, width: int) -> list[Detection]:
    """Of the `MAX_REGIONS` strongest boxes, those big enough to classify and small enough to add something."""
    area = float(height * width)
    ranked = sorted(detections, key=lambda d: -d.score * (d.box[2] * d.box[3] / area) ** 0.5)
    low, high = REGION_SHARE
    return [d for d in ranked[:MAX_REGIONS] if low <= d.box[2] * d.box[3] / area <= high]


def crop(bgr: np.ndarray, box: tuple[int, int, int, int], margin: float = REGION_MARGIN) -> np.ndarray:
    """The box grown by `margin` of its size on each side, clipped to the photo."""
    height, width = bgr.shape[:2]
    x, y, w, h = box
    dx, dy = int(w * margin), int(h * margin)
    return np.ascontiguousarray(bgr[max(0, y - dy):min(height, y + h + dy), max(0, x - dx):min(width, x + w + dx)])


@dataclass(frozen=True)
class ColourShare:
    name: str
    share: float


def colour_names(bgr: np.ndarray) -> list[ColourShare]:
    """The named colours of a region's pixels, most common first, with the share of pixels each covers.

    Hue bins on HSV with explicit achromatic rules (dark -> black, unsaturated -> white or gray,
    dark orange -> brown), so shading does not turn a red car into "black and red and pink".
    """
    if bgr.size == 0:
        return []
    small = cv2.resize(bgr, (48, 48), interpolation=cv2.INTER_AREA) if max(bgr.shape[:2]) > 48 else bgr
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int32)
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    names = np.empty(len(hsv), dtype=object)
    names[:] = "red"
    names[(h >= 8) & (h < 20)] = "orange"
    names[(h >= 20) & (h < 34)] = "yellow"
    names[(h >= 34) & (h < 85)] = "green"
    names[(h >= 85) & (h < 130)] = "blue"
    names[(h >= 130) & (h < 150)] = "purple"
    names[(h >= 150) & (h < 172)] = "pink"
    names[((h < 8) | (h >= 172)) & (s < 130) & (v > 180)] = "pink"
    names[(h >= 8) & (h < 25) & (v < 150)] = "brown"
    grey = s < 45
    names[grey] = "gray"
    names[grey & (v > 200)] = "white"
    names[v < 50] = "black"
    counts = Counter(names.tolist())
    total = float(len(names))
    return [ColourShare(name, count / total) for name, count in counts.most_common()]


def central(bgr: np.ndarray, box: tuple[int, int, int, int], keep: float = 0.6) -> np.ndarray:
    """The middle `keep` of a box: the object, mostly, rather than the background around it."""
    x, y, w, h = box
    dx, dy = int(w * (1 - keep) / 2), int(h * (1 - keep) / 2)
    return bgr[y + dy:y + h - dy, x + dx:x + w - dx]


ACHROMATIC = ("black", "white", "gray")


def main_colour(shares: list[ColourShare]) -> str | None:
    """The colour a person would name: a clear hue over shading and background greys."""
    chromatic = [s for s in shares if s.name not in ACHROMATIC]
    if chromatic and chromatic[0].share >= 0.2:
        return chromatic[0].name
    if shares and shares[0].share >= 0.4:
        return shares[0].name
    return None


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def plural(label: str, count: int) -> str:
    if count == 1:
        return f"{article(label)} {label}"
    word = PLURALS.get(label, label + "s")
    return f"{COUNTS.get(count, 'many')} {word}" if count <= 5 else f"a group of {word}"


def class_sentence(names: str) -> str:
    """'tabby, tabby cat' -> 'tabby cat'; the lemma with most words, the first of equals."""
    lemmas = [name.strip() for name in names.split(",") if name.strip()]
    lemmas = [lemma for lemma in lemmas if not lemma[:1].isupper() or lemma == lemmas[0]] or lemmas
    best = max(lemmas[:3], key=lambda lemma: (len(lemma.split()), -lemmas.index(lemma)))
    return best


def readable_words(text: str) -> list[str]:
    """The words of OCR output worth searching: mostly letters, at least two of them.

    Tesseract reads texture as short junk ("ee0e@ea@", "KF i SS"); junk with weight 1.0
    would pull every text query towards the photo.
    """
    words = []
    for token in text.split():
        core = token.strip(".,;:!?\"'()[]{}“”‘’-–—")
        letters = sum(ch.isalpha() for ch in core)
        digits = sum(ch.isdigit() for ch in core)
        if len(core) < 2 or letters + digits != len(core):
            continue
        if letters >= 3 or (letters >= 2 and not core.isascii()) or (
                letters and digits and len(core) >= 3 and core.isascii()):
            words.append(core)
    return words if sum(len(w) for w in words) >= 4 else []


def scene_cues(bgr: np.ndarray) -> list[tuple[str, float]]:
    """Scene concepts measured on the pixels: brightness, colourfulness, sky, greenery."""
    small = cv2.resize(bgr, (64, 64), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV).astype(np.float32)
    s, v = hsv[:, :, 1] / 255, hsv[:, :, 2] / 255
    h = hsv[:, :, 0]
    cues: list[tuple[str, float]] = []
    if float(np.mean(s)) < 0.06 and float(np.std(small.astype(np.float32).mean(axis=2))) > 10:
        cues.append(("a black and white photo", 0.5))
    brightness = float(np.mean(v))
    if brightness < 0.22:
        cues.append(("a dark photo at night", 0.6))
    top = slice(0, 22)
    sky = ((h[top] >= 90) & (h[top] < 130) & (s[top] > 0.15) & (v[top] > 0.45)).mean()
    if sky > 0.5:
        cues.append(("blue sky outdoors", 0.5 * float(sky)))
    green = ((h >= 34) & (h < 85) & (s > 0.25) & (v > 0.2)).mean()
    if green > 0.35:
        cues.append(("green plants and grass outdoors", 0.5 * float(green)))
    return cues


class ConceptEmbedder:
    """ImageTextEmbedder and ImageDescriber from a classifier, a detector and a multilingual text encoder."""

    def __init__(self, classifier: EfficientNetClassifier, detector: YoloxDetector, encoder: TextEncoder,
                 *, mode: str = "concepts") -> None:
        self.classifier = classifier
        self.detector = detector
        self.encoder = encoder
        self.mode = mode  # "concepts": weighted mean of sentences; "document": one sentence of them all
        self.key = f"concepts:{encoder.key}:{VERSION}" + ("" if mode == "concepts" else f":{mode}")
        self.dim = encoder.dim
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()  # concept sentence -> embedding
        self._cache_lock = threading.Lock()

    # --- seeing -----------------------------------------------------------------------------

    def describe(self, image: Image.Image, facts: PhotoFacts | None = None) -> Description:
        concepts = self.see(to_bgr(image), facts or PhotoFacts())
        return Description(concepts=concepts, caption=caption(concepts))

    def see(self, bgr: np.ndarray, facts: PhotoFacts) -> list[Concept]:
        """Classify the photo, box its objects, classify the main boxes, and say it all as concepts."""
        classes = self.classifier.classify(bgr, top=MAX_CLASSES)
        detections = self.detector.detect(bgr, threshold=DETECTION_MIN)
        regions = [Region(d, self.classifier.classify(crop(bgr, d.box), top=3))
                   for d in region_detections(detections, *bgr.shape[:2])]
        return self.concepts(bgr, classes, detections, facts, regions)

    def concepts(self, bgr: np.ndarray, classes: list[Classification], detections: list[Detection],
                 facts: PhotoFacts, regions: Sequence[Region] = ()) -> list[Concept]:
        height, width = bgr.shape[:2]
        area = float(height * width)
        found: dict[str, Concept] = {}

        def add(kind: str, label: str, weight: float, box: tuple[int, int, int, int] | None = None,
                label_ko: str = "") -> None:
            if weight <= 0:
                return
            old = found.get(label)
            if old is None or old.weight < weight:
                found[label] = Concept(kind, label, round(float(weight), 4), box, label_ko)

        def add_classes(kept: Sequence[Classification], scale: float, box: tuple[int, int, int, int] | None,
                        scenes: bool) -> None:
            """ImageNet classes as sentences, their broad groups, and (for the whole photo) its scene."""
            groups: Counter[str] = Counter()
            for c in kept:
                add("class", class_sentence(c.names), scale * c.score ** 0.5, box)
                for low, high, group in GROUPS:
                    if low <= c.index <= high:
                        groups[group] += c.score
                if scenes and c.index in SCENES:
                    add("scene", SCENES[c.index], 0.8 * scale * c.score ** 0.5)
            for group, score in groups.items():
                add("class", group, 0.8 * scale * min(1.0, score) ** 0.5, box)

        kept = [c for c in classes if c.score >= CLASS_MIN] or classes[:1]
        add_classes(kept, 1.0, None, scenes=True)
        for region in regions:
            d = region.detection
            add_classes([c for c in region.classes if c.score >= REGION_CLASS_MIN], REGION_WEIGHT * d.score, d.box,
                        scenes=False)

        by_label: dict[str, list[Detection]] = {}
        for d in detections:
            by_label.setdefault(d.label, []).append(d)
        ranked: list[tuple[float, Detection]] = []
        for label, items in by_label.items():
            sizes = [d.box[2] * d.box[3] / area for d in items]
            weight = max(d.score for d in items) * (0.4 + 0.6 * min(1.0, max(sizes) * 4) ** 0.5)
            add("object", plural(label, len(items)), weight, items[0].box)
            if len(items) > 1:
                add("object", plural(label, 1), 0.6 * weight, items[0].box)
            ranked += [(d.score * (d.box[2] * d.box[3] / area) ** 0.5, d) for d in items]

        ranked.sort(key=lambda pair: -pair[0])
        coloured = 0
        for rank, d in ranked:
            if coloured >= MAX_COLOURED or d.box[2] * d.box[3] < 0.02 * area:
                continue
            name = main_colour(colour_names(central(bgr, d.box)))
            if name:
                label = f"a person wearing {name}" if d.label == "person" else f"{article(name)} {name} {d.label}"
                add("colour", label, min(1.0, 0.5 + rank) * d.score, d.box, COLOURS_KO[name])
                coloured += 1
        top = kept[0]
        centre = (int(width * 0.2), int(height * 0.2), int(width * 0.6), int(height * 0.6))
        name = main_colour(colour_names(central(bgr, centre, keep=1.0)))
        if name and top.score >= 0.2:
            add("colour", f"{article(name)} {name} {class_sentence(top.names)}", 0.6 * top.score ** 0.5, None,
                COLOURS_KO[name])
        whole = colour_names(bgr)
        for share in whole[:2]:
            if share.share >= 0.35:
                add("colour", f"a mostly {share.name} photo", 0.4 * share.share, None, COLOURS_KO[share.name])

        for label, weight in scene_cues(bgr):
            add("scene", label, weight)

        words = readable_words(facts.text)
        if words:
            text = " ".join(words)[:200]
            add("text", f"text: {text}", TEXT_WEIGHT)
            add("text", "a photo with written text", 0.3)
            if len(words) >= 8:
                add("text", "a document with text", 0.6)
            else:
                add("text", f'a sign that says "{text}"', 0.8 * TEXT_WEIGHT)
        people = max(facts.faces, len(facts.people), len(by_label.get("person", [])))
        if facts.faces:
            add("people", plural("person", facts.faces) if facts.faces <= 5 else "a group of people", 0.8)
            add("people", "a portrait of a face" if facts.faces == 1 else "a group photo", 0.5)
        for name in facts.people:
            add("people", name, 1.0)
        if people >= 3:
            add("people", "a group of people", 0.5)
        return sorted(found.values(), key=lambda c: -c.weight)

    # --- embedding --------------------------------------------------------------------------

    def embed_images(self, images: Sequence[Image.Image], facts: Sequence[PhotoFacts] | None = None) -> np.ndarray:
        facts = list(facts) if facts is not None else [PhotoFacts()] * len(images)
        described = [self.describe(image, fact).concepts for image, fact in zip(images, facts, strict=True)]
        return self.embed_concepts(described)

    def embed_concepts(self, described: Sequence[Sequence[Concept]]) -> np.ndarray:
        """One unit vector per photo from its concepts (the seam the bench uses to compare recipes)."""
        if self.mode == "document":
            vectors = self._sentences([document(concepts) for concepts in described])
            return vectors.astype(np.float32)
        vectors = np.zeros((len(described), self.dim), np.float32)
        table = dict(zip(*self._unique(described), strict=True))
        for row, concepts in enumerate(described):
            for concept in concepts:
                vectors[row] += concept.weight * table[concept.label]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(list(texts), kind="query")

    def _unique(self, described: Sequence[Sequence[Concept]]) -> tuple[list[str], np.ndarray]:
        labels = list(dict.fromkeys(c.label for concepts in described for c in concepts))
        return labels, self._sentences(labels)

    def _sentences(self, sentences: list[str]) -> np.ndarray:
        """Document embeddings, remembered: most concept sentences recur from photo to photo."""
        with self._cache_lock:
            missing = [s for s in dict.fromkeys(sentences) if s not in self._cache]
        if missing:
            encoded = self.encoder.encode(missing, kind="document")
            with self._cache_lock:
                for sentence, vector in zip(missing, encoded, strict=True):
                    self._cache[sentence] = vector
                while len(self._cache) > 20_000:
                    self._cache.popitem(last=False)
        with self._cache_lock:
            rows = [self._cache.get(s) for s in sentences]
        if any(row is None for row in rows):  # evicted meanwhile by a huge batch: encode directly
            return self.encoder.encode(sentences, kind="document")
        return np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)


def to_bgr(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def document(concepts: Sequence[Concept]) -> str:
    """All concepts in one sentence, strongest first."""
    return "; ".join(c.label for c in concepts[:12])


def caption(concepts: Sequence[Concept]) -> str:
    """A plain sentence from the strongest concepts; shown marked as automatic, not as a real caption.

    One phrase per thing: "a cat", "Egyptian cat" and "an orange cat" are one cat, said once as
    "an orange Egyptian cat" (a count such as "two cats" wins, since it says more).
    """
    if not concepts:
        return ""
    things = [c for c in concepts if c.kind in ("colour", "object", "class", "people")
              and not c.label.startswith("a mostly")]
    groups: dict[str, list[Concept]] = {}
    for c in things:  # people are named, each their own; things by the noun they end in
        groups.setdefault(f"person:{c.label}" if c.kind == "people" else _head_noun(c.label), []).append(c)
    phrases = [_phrase(members) for members in groups.values()][:4]
    scenes = [c.label for c in concepts if c.kind == "scene"][:2]
    text = next((c.label[len("text: "):] for c in concepts if c.kind == "text" and c.label.startswith("text: ")), "")
    sentence = "A photo showing " + (", ".join(phrases) if phrases else "something unrecognised")
    if scenes:
        sentence += "; " + ", ".join(scenes)
    sentence += "."
    if text:
        sentence += f' Text in it: "{text[:80]}".'
    return sentence


_ARTICLES = ("a ", "an ", "the ")
_COUNTS = ("two ", "three ", "four ", "five ", "many ", "a group of ")


def _bare(label: str) -> str:
    """'an orange cat' -> 'orange cat'."""
    lowered = label.lower()
    return next((label[len(a):] for a in _ARTICLES if lowered.startswith(a)), label)


def _head_noun(label: str) -> str:
    """The thing a label names: 'a person wearing red' -> person, 'two cats' -> cat, 'a cup of coffee' -> cup."""
    words = _bare(label).lower().split(" wearing ")[0].removeprefix("group of ").split(" of ")[0].split()
    head = words[-1] if words else label.lower()
    if head.endswith(("sses", "ches", "shes", "xes")):  # glasses, benches, boxes
        return head[:-2]
    return head[:-1] if head.endswith("s") and not head.endswith("ss") and len(head) > 3 else head


def _phrase(members: list[Concept]) -> str:
    """The best way to say one thing: a count, else its colour when it was boxed, else its strongest name.

    Colour goes only on things named with an article ("a cup", "a cat": COCO's boxes and the broad
    groups): on an ImageNet class the colour of its box reads oddly ("a red espresso").
    """
    counted = next((m.label for m in members if m.kind == "object" and m.label.lower().startswith(_COUNTS)), None)
    if counted is not None:
        return counted
    named = {_bare(m.label) for m in members if m.kind != "colour" and _bare(m.label) != m.label}
    for m in members:
        words = _bare(m.label).split()
        if m.kind != "colour" or len(words) != len({w.lower() for w in words}):  # never "an orange orange"
            continue
        if " ".join(words[1:]) in named or (words[:2] == ["person", "wearing"] and "person" in named):
            return m.label
    # The strongest name, not a colour laid on it: that reads oddly ("a red espresso", "an orange orange").
    return next((m.label for m in members if m.kind != "colour"), members[0].label)


def _build(build: Build, *, encoder_name: str | None = None, mode: str = "concepts") -> ConceptEmbedder:
    name = encoder_name or build.settings.ai.text_encoder or registered("text_encoder")[0]
    encoder = create("text_encoder", name, build.settings)
    classifier = EfficientNetClassifier(build.weights("efficientnet_lite0"), build.weights("imagenet_classes"),
                                        build.onnx_options("efficientnet_lite0"))
    detector = YoloxDetector(build.weights("yolox_nano"), build.weights("coco_classes"),
                             build.onnx_options("yolox_nano"))
    return ConceptEmbedder(classifier, detector, encoder, mode=mode)


@register("image_text_embedder", "concepts")
def _concepts(build: Build) -> ConceptEmbedder:
    return _build(build)
