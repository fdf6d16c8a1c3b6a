"""Keyword search over the shipped corpus, in English or Korean, so search works from the first run.

A query's words are matched against titles, tags and the ingredient keys `recipes_rank`
gives every line; Korean ingredient words are first mapped to those keys through the carried
ingredient list (양파 → onion), so "양파 감자" finds English recipes with onions and potatoes.
Titles weigh most. This is no semantic search: a household's own recipes and embeddings belong
to the app's database search.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from boda.apps.pantry import corpus
from boda.apps.pantry.recipes_rank import corpus_index, vocabulary, words

TITLE_WEIGHT = 3.0
TAG_WEIGHT = 1.0
INGREDIENT_WEIGHT = 1.0
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


@dataclass(frozen=True)
class _Postings:
    title: dict[str, list[int]]
    tag: dict[str, list[int]]
    ingredient: dict[str, list[int]]  # ingredient key ("green onion") → recipes


@lru_cache(maxsize=1)
def _postings() -> _Postings:
    index = corpus_index()
    title: dict[str, list[int]] = defaultdict(list)
    tag: dict[str, list[int]] = defaultdict(list)
    ingredient: dict[str, list[int]] = defaultdict(list)
    recipes = corpus.recipes()
    position = {r.id: n for n, r in enumerate(recipes)}
    for n, recipe in enumerate(recipes):
        for word in set(words(recipe.title)):
            title[word].append(n)
        for word in {w for t in recipe.tags for w in words(t) if w != "recipe"}:
            tag[word].append(n)
    ends = [*index.starts[1:].tolist(), len(index.cols)]
    for row, (start, end) in enumerate(zip(index.starts.tolist(), ends, strict=True)):
        n = position[index.ids[row]]
        for col in index.cols[start:end].tolist():
            ingredient[index.names[col]].append(n)
    return _Postings(dict(title), dict(tag), dict(ingredient))


def _terms(query: str) -> list[tuple[tuple[str, ...], str | None]]:
    """The query as terms: (title words that must all appear, ingredient key or None).

    A Korean word the ingredient list knows becomes its English key and that key's words as a
    title phrase (간장 → "soy sauce", both words in the title); an English word stands for itself.
    """
    vocab = vocabulary()
    ingredient_keys = _postings().ingredient
    terms: list[tuple[tuple[str, ...], str | None]] = []
    for token in query.split():
        if _HANGUL.search(token):
            key = vocab.key_ko(token)
            if key:
                terms.append((tuple(words(key)), key))
        else:
            terms += [((w,), w if w in ingredient_keys else None) for w in words(token)]
    if not _HANGUL.search(query) and (key := vocab.key_en(query)) and len(key.split()) > 1:
        terms.append(((), key))  # "soy sauce" as one ingredient too
    return list(dict.fromkeys(terms))


def search(query: str, limit: int = 20) -> list[corpus.CorpusRecipe]:
    """Corpus recipes for a query, best first; recipes matching more of the query's terms rank higher."""
    terms = _terms(query)
    if not terms:
        return []
    postings = _postings()
    scores: dict[int, float] = defaultdict(float)
    matched: dict[int, int] = defaultdict(int)  # terms matched anywhere: all of the query beats part of it
    for phrase, key in terms:
        hit: set[int] = set()
        if phrase:
            titled = set(postings.title.get(phrase[0], ()))
            for word in phrase[1:]:
                titled &= set(postings.title.get(word, ()))
            for n in titled:
                scores[n] += TITLE_WEIGHT
            hit |= titled
            if len(phrase) == 1:
                tagged = postings.tag.get(phrase[0], ())
                for n in tagged:
                    scores[n] += TAG_WEIGHT
                hit.update(tagged)
        if key:
            used = postings.ingredient.get(key, ())
            for n in used:
                scores[n] += INGREDIENT_WEIGHT
            hit.update(used)
        for n in hit:
            matched[n] += 1
    recipes = corpus.recipes()
    best = sorted(scores, key=lambda n: (-matched[n], -scores[n], recipes[n].title))[:limit]
    return [recipes[n] for n in best]
