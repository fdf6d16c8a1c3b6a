"""The carried recipe corpus: its digests, its licence note, and its typed records."""

from __future__ import annotations

import gzip
import hashlib
import re

from boda.apps.pantry import corpus
from boda.apps.pantry.recipes_rank import INGREDIENTS_CSV

CONTENT_SHA256 = "3d73a7b7e2b09b7c1bf0fc433ccf910ee586be6d67e18e2d5292901b6500666b"  # recipes_en.jsonl
INGREDIENTS_SHA256 = "dc362c1edad02459328b5e12c99b3f9e97bcb9830133178309863c7d006c1fd2"


def test_the_shipped_files_match_their_sha256sums() -> None:
    sums = (corpus.DATA_DIR / "SHA256SUMS").read_text().splitlines()
    listed = dict(reversed(line.split(None, 1)) for line in sums if line.strip())
    assert set(listed) == {"recipes_en.jsonl.gz"}
    assert hashlib.sha256(corpus.CORPUS_FILE.read_bytes()).hexdigest() == listed["recipes_en.jsonl.gz"]
    with gzip.open(corpus.CORPUS_FILE, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == CONTENT_SHA256  # the data pack's file, unchanged
    assert hashlib.sha256(INGREDIENTS_CSV.read_bytes()).hexdigest() == INGREDIENTS_SHA256


def test_the_readme_states_the_licence_and_the_attribution() -> None:
    readme = " ".join((corpus.DATA_DIR / "README.md").read_text(encoding="utf-8").split())
    assert "CC BY-SA 4.0" in readme and "Wikibooks contributors" in readme and CONTENT_SHA256 in readme
    assert corpus.ATTRIBUTION in readme


def test_records_are_typed_complete_and_cached() -> None:
    recipes = corpus.recipes()
    assert len(recipes) == 3129 and corpus.recipes() is recipes
    assert sum(len(r.ingredients) for r in recipes) == 24803
    assert all(r.title and r.url.startswith("https://en.wikibooks.org/wiki/") for r in recipes)
    bulgogi = corpus.get("Cookbook:Bulgogi")
    assert bulgogi is not None and bulgogi.title == "Bulgogi" and bulgogi.tags == ("Beef recipes",)
    assert bulgogi.ingredients[0].startswith("1 lb (450 g) beef") and bulgogi.steps[-1] == "Serve with rice."
    assert bulgogi.yields == "6" and bulgogi.attribution == corpus.ATTRIBUTION
    # wiki list markers are gone from steps
    assert not any(re.match(r"^[*#]", s) for r in recipes for s in r.steps)
