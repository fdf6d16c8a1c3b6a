"""Album search quality of the offline concepts backend: recall@1 and recall@5, English and Korean.

The photos are real ones that ship in installed packages (scikit-image's sample photos,
scikit-learn's two, the faces test fixtures) plus compositions of their crops (a cat on a
brick wall, two cats, the motorcycle recoloured blue and green, the rocket at night, a sign
with words on a photo) so that colour, count, scene and text queries have answers.
The caller's facts are real too: words read by Tesseract (kor+eng), faces counted by Boda's
face detector, and the names a user gave two people.

Each query is asked in English and in Korean; recall@k = relevant photos in the top k /
min(k, relevant photos) (so 1.0 is reachable when more than k photos are relevant).
Recipes compared, per text encoder:
- baseline: EfficientNet's top-5 classes as "a photo of a ...", embedded and summed (the issue's)
- concepts: the backend (weighted mean of concept-sentence embeddings)
- document: the same concepts joined into one sentence, embedded once

    PYTHONPATH=. python bench/album_quality.py [--no-ocr] [--facts-cache /tmp/facts.pkl] [--misses]

Figures on 2 shared cores, 2026-12-03 (recall@5 / recall@1), the words read by Boda's own
Tesseract provider, boxed objects classified on their own crops (concepts v2):
    encoder          recipe    English      Korean
    use-m            baseline  0.72 / 0.50  0.67 / 0.50
    use-m            concepts  0.89 / 0.72  0.82 / 0.56
    e5-small         baseline  0.67 / 0.50  0.64 / 0.36
    e5-small         concepts  0.84 / 0.83  0.79 / 0.64
    use-m+e5-small   concepts  0.91 / 0.72  0.85 / 0.58   <- the default
    use-m+e5-small   document  0.86 / 0.72  0.81 / 0.69
The query set was written while the backend was built (not held out): read it as a
regression figure, not as the issue's held-out 263-photo measure. Two held-out sets:
- EXTRA, 10 queries written after the first tuning (`--queries extra`): the default 0.96 / 0.90
  English, 0.83 / 0.70 Korean; use-m concepts 0.93 / 0.90 and 0.78 / 0.80; baseline (use-m)
  0.77 / 0.70 and 0.69 / 0.70.
- EXTRA2, 24 queries written from the photos alone after the region classes, scored as
  written and changed by nothing learnt from them (`--queries extra2`): the default 0.78 / 0.58
  English, 0.67 / 0.54 Korean (without the region classes 0.80 and 0.63 in the top 5); the
  baseline (same encoder) 0.64 / 0.58 and 0.59 / 0.46. It asks for what neither carried model has a
  class for (a flag, a silhouette, pebbles, a garage, handwriting, a medical image): the
  ceiling of an ImageNet + COCO vocabulary, which real CLIP weights do not have.
Korean stays under the issue's 0.85 on both held-out sets.
Tried on 2026-12-03 and not kept: aligning each encoder's Korean to its English with an orthogonal
(Procrustes) map learnt from 2,497 Korean-English pairs that ship in registry packages (CLDR emoji
names from `emoji` 2.16, BSD; the ingredient list Pantry carries). It helps text: on 20 % of the
pairs held out, Korean-to-English retrieval P@1 went 0.56 -> 0.60 (use-m) and 0.37 -> 0.50
(e5-small, half-way mix). It does not help photos: Korean recall@5 over all 70 queries
0.79 -> 0.79 (tuned 0.85 -> 0.84, EXTRA 0.83 -> 0.78, EXTRA2 0.67 -> 0.71). The misses are words
the encoders barely know in Korean (라떼, 탈것, 우주복) and one-syllable homonyms (말, 달), not a
shift between the languages.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from boda.ai.concepts import ConceptEmbedder, _build  # noqa: E402
from boda.ai.embed import Concept, PhotoFacts  # noqa: E402
from boda.ai.registry import Build, Providers, create  # noqa: E402
from boda.core.config import Settings  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "faces"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def skimage_photo(name: str) -> Image.Image:
    import skimage.data as data

    if name == "motorcycle":
        return Image.fromarray(data.stereo_motorcycle()[0])
    return Image.fromarray(getattr(data, name)()).convert("RGB")


def sklearn_photo(name: str) -> Image.Image:
    import sklearn.datasets

    return Image.open(Path(sklearn.datasets.__file__).parent / "images" / f"{name}.jpg").convert("RGB")


def fixture(name: str) -> Image.Image:
    return Image.open(FIXTURES / name).convert("RGB")


def place(background: Image.Image, *items: tuple[Image.Image, tuple[float, float, float]]) -> Image.Image:
    """Paste crops onto a background at (x, y, width) fractions of it."""
    canvas = background.convert("RGB").resize((640, 480))
    for item, (fx, fy, fw) in items:
        width = int(640 * fw)
        height = int(item.height * width / item.width)
        canvas.paste(item.resize((width, height)), (int(640 * fx), int(480 * fy)))
    return canvas


def hue_shift(image: Image.Image, degrees: int) -> Image.Image:
    hsv = np.asarray(image.convert("HSV")).copy()
    hsv[:, :, 0] = (hsv[:, :, 0].astype(np.int32) + int(degrees * 256 / 360)) % 256
    return Image.fromarray(hsv, "HSV").convert("RGB")


def sign(photo: Image.Image, words: str) -> Image.Image:
    """A shop sign on a plain wall above a real photo's crop (Tesseract reads no sign laid over a texture)."""
    canvas = Image.new("RGB", (640, 480), (232, 226, 214))
    draw = ImageDraw.Draw(canvas)
    draw.text((320, 90), words, fill=(25, 25, 25), font=ImageFont.truetype(FONT, 72), anchor="mm")
    canvas.paste(photo.convert("RGB").resize((400, 280)), (120, 190))
    return canvas


def photos() -> dict[str, Image.Image]:
    cat, coffee, astronaut = skimage_photo("chelsea"), skimage_photo("coffee"), skimage_photo("astronaut")
    brick, grass = skimage_photo("brick"), skimage_photo("grass")
    motorcycle, rocket = skimage_photo("motorcycle"), skimage_photo("rocket")
    cup = coffee.crop((60, 20, 560, 380))
    found = {name: skimage_photo(name) for name in (
        "astronaut", "chelsea", "coffee", "rocket", "motorcycle", "camera", "hubble_deep_field", "page", "moon",
        "coins", "brick", "grass", "gravel", "retina", "immunohistochemistry", "horse", "text")}
    found |= {"china": sklearn_photo("china"), "flower": sklearn_photo("flower"),
              "grace_hopper": fixture("grace_hopper.jpg"), "group": fixture("group.jpg")}
    found |= {
        "cat_on_brick": place(brick, (cat, (0.15, 0.2, 0.7))),
        "cat_on_grass": place(grass, (cat, (0.1, 0.25, 0.8))),
        "two_cats": place(Image.new("RGB", (640, 480), (235, 235, 230)), (cat, (0.0, 0.25, 0.49)),
                          (ImageOps.mirror(cat), (0.51, 0.25, 0.49))),
        "cat_and_coffee": place(Image.new("RGB", (640, 480), (240, 240, 235)), (cat, (0.0, 0.2, 0.55)),
                                (cup, (0.58, 0.3, 0.4))),
        "coffee_on_brick": place(brick, (cup, (0.2, 0.2, 0.6))),
        "astronaut_and_cat": place(Image.new("RGB", (640, 480), (20, 20, 30)), (astronaut, (0.0, 0.1, 0.5)),
                                   (cat, (0.52, 0.25, 0.46))),
        "motorcycle_blue": hue_shift(motorcycle, 220),
        "motorcycle_green": hue_shift(motorcycle, 120),
        "rocket_night": Image.fromarray((np.asarray(rocket, np.float32) * 0.18).astype(np.uint8)),
        "sign_open": sign(motorcycle, "OPEN 24H"),
        "sign_bakery": sign(cup, "BAKERY"),
    }
    return found


# People's names the user gave (the caller passes them through PhotoFacts).
NAMES = {"grace_hopper": ("Grace Hopper",), "astronaut": ("Eileen Collins",), "astronaut_and_cat": ("Eileen Collins",)}

CATS = ["chelsea", "cat_on_brick", "cat_on_grass", "two_cats", "cat_and_coffee", "astronaut_and_cat"]
COFFEE = ["coffee", "coffee_on_brick", "cat_and_coffee", "sign_bakery", "group"]  # group: faces on the coffee photo
MOTORCYCLES = ["motorcycle", "motorcycle_blue", "motorcycle_green", "sign_open"]
PEOPLE = ["astronaut", "camera", "grace_hopper", "group", "astronaut_and_cat"]
GRAY = ["camera", "moon", "coins", "page", "text", "brick", "grass", "gravel", "horse"]

# (English, Korean, relevant photo ids)
QUERIES: list[tuple[str, str, list[str]]] = [
    ("a cat", "고양이", CATS),
    ("cat photos", "고양이 사진", CATS),
    ("coffee", "커피", COFFEE),
    ("a cup of coffee", "커피 한 잔", COFFEE),
    ("a coffee cup", "커피잔", COFFEE),
    ("a cat and a cup of coffee", "고양이와 커피", ["cat_and_coffee"]),
    ("two cats", "고양이 두 마리", ["two_cats"]),
    ("a cat on a brick wall", "벽돌 벽 앞의 고양이", ["cat_on_brick"]),
    ("an astronaut", "우주비행사", ["astronaut", "astronaut_and_cat"]),
    ("a person", "사람", PEOPLE),
    ("a group of people", "여러 사람", ["group"]),
    ("a woman in a military uniform", "군복을 입은 여자", ["grace_hopper"]),
    ("a man with a camera", "카메라를 든 남자", ["camera"]),
    ("a motorcycle", "오토바이", MOTORCYCLES),
    ("a red motorcycle", "빨간 오토바이", ["motorcycle", "sign_open"]),
    ("a blue motorcycle", "파란 오토바이", ["motorcycle_blue"]),
    ("a green motorcycle", "초록색 오토바이", ["motorcycle_green"]),
    ("a rocket", "로켓", ["rocket", "rocket_night"]),
    ("a rocket launch at night", "밤의 로켓", ["rocket_night"]),
    ("a photo taken at night", "밤에 찍은 사진", ["rocket_night", "hubble_deep_field", "moon"]),
    ("galaxies in space", "우주의 은하", ["hubble_deep_field"]),
    ("the moon", "달", ["moon"]),
    ("coins", "동전", ["coins"]),
    ("a brick wall", "벽돌 벽", ["brick", "cat_on_brick", "coffee_on_brick"]),
    ("a flower", "꽃", ["flower"]),
    ("a temple", "사원", ["china"]),
    ("a black and white photo", "흑백 사진", GRAY),
    ("a document with text", "글자가 있는 문서", ["page", "text"]),
    ("a sign that says open", "OPEN 간판", ["sign_open"]),
    ("bakery", "빵집", ["sign_bakery"]),
    ("Grace Hopper", "그레이스 호퍼", ["grace_hopper"]),
    ("Eileen Collins", "아일린 콜린스", ["astronaut", "astronaut_and_cat"]),
    ("an orange cat", "주황색 고양이", CATS),
    ("food", "음식", COFFEE),
    ("a horse", "말", ["horse"]),
    ("a microscope image of cells", "세포 현미경 사진", ["immunohistochemistry", "retina"]),
]

# Written after the backend was tuned on QUERIES and run once, as they are (`--queries extra`): a held-out check.
EXTRA: list[tuple[str, str, list[str]]] = [
    ("a kitten", "새끼 고양이", CATS),
    ("espresso", "에스프레소", COFFEE),
    ("a scooter", "스쿠터", MOTORCYCLES),
    ("a pet", "반려동물", CATS),
    ("a hot drink", "따뜻한 음료", COFFEE),
    ("a spacesuit", "우주복", ["astronaut", "astronaut_and_cat"]),
    ("a portrait", "인물 사진", PEOPLE),
    ("a building", "건물", ["china"]),
    ("a woman", "여자", ["astronaut", "grace_hopper", "astronaut_and_cat"]),
    ("a vehicle", "탈것", MOTORCYCLES + ["rocket", "rocket_night"]),
]


# Written on 2026-12-03 after the region classes were added, from looking at the photos only, and scored as
# they are (`--queries extra2`): the second held-out check, larger than the first. Nothing was tuned on them.
EXTRA2: list[tuple[str, str, list[str]]] = [
    ("a tabby cat", "줄무늬 고양이", CATS),
    ("animals", "동물", CATS + ["horse"]),
    ("a latte", "라떼", COFFEE),
    ("a motorbike", "모터사이클", MOTORCYCLES),
    ("a spaceship", "우주선", ["rocket", "rocket_night", "astronaut", "astronaut_and_cat"]),
    ("a launch pad", "발사대", ["rocket", "rocket_night"]),
    ("stars in the night sky", "밤하늘의 별", ["hubble_deep_field"]),
    ("a dark photo", "어두운 사진", ["rocket_night", "hubble_deep_field"]),
    ("a man", "남자", ["camera", "group"]),
    ("a navy officer", "해군 장교", ["grace_hopper"]),
    ("a photographer", "사진작가", ["camera"]),
    ("a tripod", "삼각대", ["camera"]),
    ("a pagoda", "탑", ["china"]),
    ("an orange flower", "주황색 꽃", ["flower"]),
    ("the American flag", "미국 국기", ["astronaut", "grace_hopper", "astronaut_and_cat"]),
    ("a medical image", "의료 영상", ["retina", "immunohistochemistry"]),
    ("a saucer", "받침 접시", COFFEE),
    ("pebbles", "자갈", ["gravel"]),
    ("a silhouette", "실루엣", ["horse"]),
    ("a garage", "차고", ["motorcycle", "motorcycle_blue", "motorcycle_green"]),
    ("money", "돈", ["coins"]),
    ("a store sign", "가게 간판", ["sign_open", "sign_bakery"]),
    ("handwriting", "손글씨", ["text"]),
    ("a building by the lake", "호숫가의 건물", ["china"]),
]
QUERY_SETS = {"tuned": QUERIES, "extra": EXTRA, "extra2": EXTRA2}


def facts_for(images: dict[str, Image.Image], providers: Providers, ocr: bool) -> dict[str, PhotoFacts]:
    faces = providers.face_detector()
    reader = providers.get("ocr") if ocr else None  # Boda's own Tesseract (kor+eng), as Album runs it
    found = {}
    for name, image in images.items():
        text = " ".join(reader.read(image).text.split()) if reader is not None else ""
        bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
        found[name] = PhotoFacts(text=text, faces=len(faces.detect(bgr)), people=NAMES.get(name, ()))
    return found


def recall(scores: np.ndarray, names: list[str], relevant: list[str], k: int) -> float:
    top = [names[i] for i in np.argsort(-scores)[:k]]
    return len(set(top) & set(relevant)) / min(k, len(relevant))


def evaluate(vectors: np.ndarray, queries: np.ndarray, names: list[str], relevant: list[list[str]]
             ) -> tuple[float, float]:
    scores = queries @ vectors.T
    r1 = float(np.mean([recall(s, names, rel, 1) for s, rel in zip(scores, relevant, strict=True)]))
    r5 = float(np.mean([recall(s, names, rel, 5) for s, rel in zip(scores, relevant, strict=True)]))
    return r1, r5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-ocr", action="store_true", help="skip Tesseract (text queries then fail)")
    parser.add_argument("--facts-cache", type=Path, help="pickle the facts here and reuse them (OCR is slow)")
    parser.add_argument("--show", action="store_true", help="print each photo's facts and concepts")
    parser.add_argument("--queries", choices=QUERY_SETS, default="tuned",
                        help="the set written while tuning, or a held-out one (extra, extra2)")
    parser.add_argument("--misses", action="store_true", help="print the queries the backend misses at 5")
    args = parser.parse_args()

    settings = Settings(_env_file=None, data_dir=Path(tempfile.mkdtemp()),  # type: ignore[call-arg]
                        ai={"threads": 1, "downloads": False})
    providers = Providers(settings)
    queries = QUERY_SETS[args.queries]
    images = photos()
    names = list(images)
    print(f"{len(names)} photos, {len(queries)} queries in English and in Korean")
    started = time.perf_counter()
    if args.facts_cache and args.facts_cache.exists():
        facts = pickle.loads(args.facts_cache.read_bytes())
    else:
        facts = facts_for(images, providers, ocr=not args.no_ocr)
        if args.facts_cache:
            args.facts_cache.write_bytes(pickle.dumps(facts))
    print(f"facts (OCR + faces): {time.perf_counter() - started:.1f} s")

    base = _build(Build(settings, "concepts"), encoder_name="use-m")
    started = time.perf_counter()
    described: list[list[Concept]] = []
    top5: list[list[str]] = []
    for name in names:
        bgr = np.ascontiguousarray(np.asarray(images[name])[:, :, ::-1])
        described.append(base.see(bgr, facts[name]))
    seconds = time.perf_counter() - started
    for name, concepts in zip(names, described, strict=True):  # the baseline's classes, outside the timing
        bgr = np.ascontiguousarray(np.asarray(images[name])[:, :, ::-1])
        top5.append([c.label for c in base.classifier.classify(bgr, top=5)])
        if args.show:
            print(name, facts[name], [(c.label, c.weight) for c in concepts])
    print(f"seeing (classify, detect, classify boxes, colours, cues): {len(names) / seconds:.1f} photos/s, 1 thread")

    relevant = [rel for _, _, rel in queries]
    print(f"\n{'encoder':15} {'recipe':9} {'EN r@1':>7} {'EN r@5':>7} {'KO r@1':>7} {'KO r@5':>7}  embed photos/s")
    results = {}
    for encoder_name in ("use-m", "e5-small", "use-m+e5-small"):
        encoder = create("text_encoder", encoder_name, settings)
        english = encoder.encode([q for q, _, _ in queries], kind="query")
        korean = encoder.encode([k for _, k, _ in queries], kind="query")
        started = time.perf_counter()
        baseline = encoder.encode([f"a photo of a {label}" for labels in top5 for label in labels], kind="document")
        baseline = baseline.reshape(len(names), 5, -1).sum(axis=1)
        baseline /= np.linalg.norm(baseline, axis=1, keepdims=True)
        rows = {"baseline": (baseline, time.perf_counter() - started)}
        for mode in ("concepts", "document"):
            embedder = ConceptEmbedder(base.classifier, base.detector, encoder, mode=mode)
            started = time.perf_counter()
            rows[mode] = (embedder.embed_concepts(described), time.perf_counter() - started)
        for recipe, (vectors, seconds) in rows.items():
            en, ko = evaluate(vectors, english, names, relevant), evaluate(vectors, korean, names, relevant)
            results[(encoder_name, recipe)] = (en, ko)
            print(f"{encoder_name:15} {recipe:9} {en[0]:7.2f} {en[1]:7.2f} {ko[0]:7.2f} {ko[1]:7.2f}"
                  f"  {len(names) / max(seconds, 1e-9):8.0f}")
        if args.misses:
            vectors = rows["concepts"][0]
            for language, asked in (("en", english), ("ko", korean)):
                for (en_q, ko_q, rel), q in zip(queries, asked, strict=True):
                    scores = vectors @ q
                    if recall(scores, names, rel, 5) < 1:
                        top = [names[i] for i in np.argsort(-scores)[:5]]
                        print(f"  miss {encoder_name} {language} {en_q if language == 'en' else ko_q!r}: {top}")

    best = max((key for key in results if key[1] == "concepts"), key=lambda key: sum(results[key][0] + results[key][1]))
    print(f"\nbest concepts encoder by the sum of the four figures: {best[0]}")


if __name__ == "__main__":
    main()
