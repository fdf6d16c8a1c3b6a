"""The offline concepts backend on real photos (scikit-image's) with the real carried and packaged weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from boda.ai.concepts import (
    ConceptEmbedder,
    caption,
    colour_names,
    crop,
    main_colour,
    readable_words,
    region_detections,
)
from boda.ai.detect import Detection
from boda.ai.embed import Concept, PhotoFacts
from boda.ai.registry import Providers, registered
from boda.ai.text_encoders import E5Small, UseMultilingual
from boda.core.config import Settings

NAMES = ("astronaut", "chelsea", "coffee", "motorcycle", "rocket")


def photo(name: str) -> Image.Image:
    if name == "motorcycle":
        return Image.fromarray(skimage.data.stereo_motorcycle()[0])
    return Image.fromarray(getattr(skimage.data, name)())


def hue_shift(image: Image.Image, degrees: int) -> Image.Image:
    hsv = np.asarray(image.convert("HSV")).copy()
    hsv[:, :, 0] = (hsv[:, :, 0].astype(np.int32) + int(degrees * 256 / 360)) % 256
    return Image.fromarray(hsv, "HSV").convert("RGB")


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> ConceptEmbedder:
    settings = Settings(_env_file=None, data_dir=Path(tmp_path_factory.mktemp("concepts")),  # type: ignore[call-arg]
                        ai={"threads": 1, "downloads": False})
    provider = Providers(settings).get("image_text_embedder")
    assert isinstance(provider, ConceptEmbedder)
    return provider


@pytest.fixture(scope="module")
def album(embedder: ConceptEmbedder) -> np.ndarray:
    return embedder.embed_images([photo(name) for name in NAMES])


def best(embedder: ConceptEmbedder, album: np.ndarray, query: str, names: tuple[str, ...] = NAMES) -> str:
    return names[int(np.argmax(album @ embedder.embed_texts([query])[0]))]


def test_default_backend_and_encoder_are_the_measured_ones(embedder: ConceptEmbedder) -> None:
    from boda.ai.registry import Providers
    from boda.core.config import Settings

    # The default comes from settings, not from which provider module happened to be imported first.
    assert Providers(Settings(_env_file=None)).default_name("image_text_embedder") == "concepts"  # type: ignore[call-arg]
    assert registered("text_encoder")[0] == "use-m+e5-small"
    assert embedder.key == "concepts:use-m+e5-small:v2" and embedder.dim == 512 + 384


@pytest.mark.parametrize(("query", "expected"), [
    ("a cat", "chelsea"), ("고양이", "chelsea"),
    ("coffee", "coffee"), ("커피", "coffee"),
    ("a person", "astronaut"), ("사람", "astronaut"),
    ("a red motorcycle", "motorcycle"), ("빨간 오토바이", "motorcycle"),
    ("a rocket", "rocket"),  # "로켓" finds the motorcycle: EfficientNet calls the rocket a drilling platform
])
def test_korean_and_english_queries_find_the_photo(embedder: ConceptEmbedder, album: np.ndarray,
                                                   query: str, expected: str) -> None:
    assert best(embedder, album, query) == expected


def test_embeddings_are_unit_length_and_deterministic(embedder: ConceptEmbedder, album: np.ndarray) -> None:
    assert album.shape == (len(NAMES), embedder.dim) and album.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(album, axis=1), 1.0, atol=1e-5)
    again = embedder.embed_images([photo("chelsea")])
    np.testing.assert_allclose(again[0], album[NAMES.index("chelsea")], atol=1e-6)
    queries = embedder.embed_texts(["고양이", "a cat"])
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(queries, embedder.embed_texts(["고양이", "a cat"]))


def test_describe_names_what_it_sees_with_a_caption(embedder: ConceptEmbedder) -> None:
    description = embedder.describe(photo("chelsea"))
    labels = [c.label for c in description.concepts]
    assert "a cat" in labels and "an orange cat" in labels
    assert description.caption.startswith("A photo showing") and "cat" in description.caption
    weights = [c.weight for c in description.concepts]
    assert weights == sorted(weights, reverse=True) and all(w > 0 for w in weights)
    orange = next(c for c in description.concepts if c.label == "an orange cat")
    assert orange.kind == "colour" and orange.box is not None and orange.label_ko == "주황색"


def test_a_caption_says_each_thing_once_with_its_count_or_colour() -> None:
    def seen(*items: tuple[str, str]) -> list[Concept]:
        return [Concept(kind, label, 1.0 - i / 100) for i, (kind, label) in enumerate(items)]

    # What EfficientNet, YOLOX and the colours said of scikit-image's cat: four names for one cat.
    cat = seen(("class", "Egyptian cat"), ("class", "a cat"), ("colour", "an orange cat"),
               ("colour", "an orange Egyptian cat"), ("class", "tabby cat"), ("colour", "a mostly brown photo"),
               ("scene", "a cat indoors"))
    assert caption(cat) == "A photo showing an orange cat; a cat indoors."
    # A count says more than a colour; an ImageNet class keeps its own name, uncoloured.
    cats = seen(("class", "Egyptian cat"), ("object", "two cats"), ("colour", "an orange cat"),
                ("class", "espresso"), ("colour", "a red espresso"), ("object", "a cup"), ("colour", "a white cup"))
    assert caption(cats) == "A photo showing two cats, espresso, a white cup."
    people = seen(("object", "a person"), ("colour", "a person wearing red"), ("object", "an orange"),
                  ("colour", "an orange orange"), ("class", "daisy"), ("class", "bee"), ("class", "a flower"),
                  ("text", "text: OPEN"))
    assert caption(people) == 'A photo showing a person wearing red, an orange, daisy, bee. Text in it: "OPEN".'
    # Two people are two, whatever their last names; "glasses" is the plural of "glass"; a colour seen on an
    # ImageNet class stays off it even when it weighs more than the class.
    named = seen(("people", "Anna Smith"), ("people", "John Smith"), ("object", "two wine glasses"),
                 ("colour", "a red wine glass"), ("colour", "a red espresso"), ("class", "espresso"))
    assert caption(named) == "A photo showing Anna Smith, John Smith, two wine glasses, espresso."
    assert caption([]) == "" and caption(seen(("colour", "a mostly gray photo"))) == (
        "A photo showing something unrecognised.")


def test_each_main_boxed_object_is_classified_on_its_own(embedder: ConceptEmbedder) -> None:
    # A cat beside a cup of coffee: the whole photo's classes are all cats, so only the cup's own crop
    # can say "espresso" (what a user types), and the concept carries the cup's box.
    canvas = Image.new("RGB", (640, 480), (240, 240, 235))
    canvas.paste(photo("chelsea").resize((352, 256)), (0, 96))
    canvas.paste(photo("coffee").crop((60, 20, 560, 380)).resize((256, 184)), (371, 144))
    whole = embedder.classifier.classify(np.asarray(canvas)[:, :, ::-1].copy(), top=5)
    assert all("espresso" not in c.names for c in whole)
    espresso = next(c for c in embedder.describe(canvas).concepts if c.label == "espresso")
    x, _, width, _ = espresso.box
    assert espresso.kind == "class" and x + width / 2 > 371
    vectors = embedder.embed_images([photo("chelsea"), canvas])
    for query in ("espresso", "에스프레소"):
        assert best(embedder, vectors, query, ("chelsea", "cat_and_coffee")) == "cat_and_coffee"


def test_regions_are_the_strongest_boxes_of_a_useful_size_and_crops_stay_inside() -> None:
    def box(label: str, score: float, x: int, y: int, w: int, h: int) -> Detection:
        return Detection((x, y, w, h), label, score)

    tiny, whole = box("cup", 0.9, 0, 0, 10, 10), box("table", 0.9, 0, 0, 100, 100)  # 1 % and 100 % of 100x100
    cat, dog, bird, car = (box("cat", 0.8, 10, 10, 40, 40), box("dog", 0.7, 50, 50, 30, 30),
                           box("bird", 0.6, 0, 60, 20, 20), box("car", 0.2, 60, 0, 20, 20))
    chosen = region_detections([car, tiny, bird, whole, cat, dog], 100, 100)
    # the three strongest (score x sqrt(share)) are whole, cat, dog; the whole photo's box adds nothing
    assert chosen == [cat, dog]
    image = np.arange(100 * 100 * 3, dtype=np.uint8).reshape(100, 100, 3)
    assert crop(image, (10, 10, 40, 40)).shape == (48, 48, 3)  # 10 % of the box on each side
    assert crop(image, (90, 0, 10, 100)).shape == (100, 11, 3)  # clipped at the edges
    np.testing.assert_array_equal(crop(image, (20, 30, 10, 10), margin=0), image[30:40, 20:30])


def test_colours_of_objects_follow_their_pixels(embedder: ConceptEmbedder) -> None:
    red = np.zeros((60, 80, 3), np.uint8)
    red[:, :] = (30, 30, 200)  # BGR
    red[:, :20] = (20, 20, 120)  # a shaded side is still red, not brown
    assert main_colour(colour_names(red)) == "red"
    grey_with_blue = np.full((60, 80, 3), 128, np.uint8)
    grey_with_blue[:, :30] = (200, 60, 20)
    assert main_colour(colour_names(grey_with_blue)) == "blue"  # a hue beats the grey around it
    blue = [c.label for c in embedder.describe(hue_shift(photo("motorcycle"), 220)).concepts]
    assert "a blue motorcycle" in blue and "a red motorcycle" not in blue
    vectors = embedder.embed_images([photo("motorcycle"), hue_shift(photo("motorcycle"), 220)])
    scores = vectors @ embedder.embed_texts(["파란 오토바이", "a blue motorcycle", "빨간 오토바이"]).T
    assert scores[1, 0] > scores[0, 0] and scores[1, 1] > scores[0, 1] and scores[0, 2] > scores[1, 2]


def test_words_read_in_a_photo_make_it_findable(embedder: ConceptEmbedder) -> None:
    names = ("chelsea", "coffee", "rocket")
    plain = embedder.embed_images([photo(name) for name in names])
    facts = [PhotoFacts(), PhotoFacts(), PhotoFacts(text="BAKERY\n~ 7")]  # as Tesseract reads a sign
    read = embedder.embed_images([photo(name) for name in names], facts)
    assert best(embedder, plain, "bakery", names) == "coffee"  # without the words: the nearest food
    assert best(embedder, read, "bakery", names) == "rocket"
    assert best(embedder, read, "빵집", names) == "rocket"
    labels = [c.label for c in embedder.describe(photo("rocket"), facts[2]).concepts]
    assert 'a sign that says "BAKERY"' in labels and "text: BAKERY" in labels


def test_people_named_by_the_user_are_found_by_name(embedder: ConceptEmbedder) -> None:
    names = ("astronaut", "chelsea", "coffee")
    facts = [PhotoFacts(faces=1, people=("Eileen Collins",)), PhotoFacts(), PhotoFacts()]
    vectors = embedder.embed_images([photo(name) for name in names], facts)
    assert best(embedder, vectors, "Eileen Collins", names) == "astronaut"
    labels = [c.label for c in embedder.describe(photo("astronaut"), facts[0]).concepts]
    assert "Eileen Collins" in labels and "a portrait of a face" in labels


def test_ocr_junk_is_not_a_concept() -> None:
    assert readable_words("ㅇ00000 ee0e@ea@ 6 @@ @986") == []
    assert readable_words("다이 시 KF i") == []
    assert readable_words("OPEN 24H\n\n") == ["OPEN", "24H"]
    assert readable_words("빵집 영업중") == ["빵집", "영업중"]


def test_text_encoders_put_korean_beside_english() -> None:
    pairs = [("a cat", "고양이"), ("coffee", "커피"), ("a red car", "빨간 자동차")]
    for encoder in (UseMultilingual(threads=1), E5Small(threads=1)):
        english = encoder.encode([en for en, _ in pairs])
        korean = encoder.encode([ko for _, ko in pairs], kind="query")
        assert english.shape == (3, encoder.dim)
        np.testing.assert_allclose(np.linalg.norm(english, axis=1), 1.0, atol=1e-5)
        similarity = korean @ english.T
        assert (similarity.argmax(axis=1) == np.arange(3)).all(), encoder.key
    e5 = E5Small(threads=1)
    assert float(e5.encode(["a cat"], kind="query")[0] @ e5.encode(["a cat"])[0]) < 0.999  # prefixes differ
    assert UseMultilingual(threads=1).encode([]).shape == (0, 512)


def test_any_photo_mode_or_size_is_embedded(embedder: ConceptEmbedder) -> None:
    odd = [Image.new("RGB", (1, 1)), photo("camera"), photo("coffee").convert("RGBA"), photo("coffee").convert("P")]
    vectors = embedder.embed_images(odd)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert "a black and white photo" in [c.label for c in embedder.describe(photo("camera")).concepts]
    assert embedder.embed_images([]).shape == (0, embedder.dim)
