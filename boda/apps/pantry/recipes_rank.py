"""What can I cook: recipes ranked by how much of them is in stock, weighted to what spoils soonest.

Instant and without an LLM. Recipe ingredient lines (English or Korean) and stock items are
mapped to one key space, the English names of the carried Korean–English ingredient list
(`data/ingredients-ko-en/ingredients_ko_en.csv`): 대파 and "green onions" meet as
"green onion". A line the list does not know keeps its own normalised name, so it can still
meet a stock item of the same name. A stock item also covers the generic words its name ends
in ("white rice" covers a recipe's "rice"), not the reverse.

The index is a compressed sparse layout (numpy): one query is a gather and a `reduceat` over
every recipe's ingredients, so 10,000 recipes × 200 stock items answer in a few milliseconds
(`bench/pantry_rank.py`).
"""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from boda.apps.pantry.recipes_parse import parse

INGREDIENTS_CSV = Path(__file__).parent / "data" / "ingredients-ko-en" / "ingredients_ko_en.csv"

# Pantry staples count lightly: nearly every kitchen has them and nearly every recipe names them.
STAPLES = frozenset({"salt", "water", "oil", "cooking oil", "vegetable oil", "olive oil", "pepper", "black pepper",
                     "ground black pepper", "white pepper", "ice"})
STAPLE_WEIGHT = 0.2
URGENCY_BONUS = 0.5  # how much using what spoils soon adds to a recipe's score (coverage counts 1)
# Words too generic to stand for an ingredient on their own when a longer name ends in them.
BREADTH_FULL = 4  # this many non-staple ingredients in stock count as fully "using what is there"
_GENERIC = frozenset({"sauce", "powder", "paste", "mix", "syrup", "leaf", "seed", "flake", "extract", "sprout",
                      "juice", "stock", "large", "small", "fresh", "dried", "frozen", "ground", "sliced", "chopped",
                      "style", "korean", "green", "red", "white", "black", "yellow"})
_MAX_GRAM = 4
# Preparation words in front of a name: "minced garlic" is garlic for what is in stock.
_PREPARED = frozenset({"minced", "chopped", "sliced", "diced", "grated", "crushed", "dried", "fresh", "frozen",
                       "ground", "whole", "raw", "cooked", "boiled", "peeled", "shredded", "large", "small",
                       "medium", "finely", "roughly", "thinly", "smoked", "canned"})


# --- names ----------------------------------------------------------------------------------


def _singular(word: str) -> str:
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("oes", "ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


_WORD = re.compile(r"[a-z]+")


def words(text: str) -> list[str]:
    """Lower-case singular English words ("Green Onions," → ["green", "onion"])."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return [_singular(w) for w in _WORD.findall(text.lower())]


def _ko(text: str) -> str:
    return re.sub(r"[\s()\[\],.·]", "", unicodedata.normalize("NFKC", text))


@lru_cache(maxsize=65536)
def title_key(title: str) -> str:
    """A title with case, accents, spaces and punctuation gone: "Yangpa-jorim" = "yangpa jorim"."""
    text = unicodedata.normalize("NFKD", title.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isalnum())


@lru_cache(maxsize=65536)
def _word_set(title: str) -> frozenset[str]:
    return frozenset(words(title))


def similar_title(a: str, b: str, threshold: float = 0.8) -> bool:
    """Whether two recipe titles name the same dish: equal keys, one inside the other, or close spelling."""
    ka, kb = title_key(a), title_key(b)
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    short, long_ = sorted((ka, kb), key=len)
    # One inside the other: a near copy ("삼겹살 덮밥" in "매콤 삼겹살덮밥"), unless too short to mean a dish.
    if len(short) >= (2 if re.search(r"[\uac00-\ud7a3]", short) else 4) and short in long_:
        return True
    matcher = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
    # The cheap upper bounds first: most candidate pairs are far apart and stop here.
    if matcher.real_quick_ratio() >= threshold and matcher.quick_ratio() >= threshold \
            and matcher.ratio() >= threshold:
        return True
    wa, wb = _word_set(a), _word_set(b)
    return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= 0.75


# --- the ingredient vocabulary ---------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """Korean and English ingredient names → one English key each."""

    english: dict[str, str]  # "green onion" (singular words joined) → key
    korean: dict[str, str]  # "대파", "파" → key
    korean_by_length: tuple[str, ...] = field(default=())  # Korean names, longest first

    def key_en(self, text: str) -> str | None:
        """The longest known name in an English text ("3 green onions, sliced" → "green onion")."""
        toks = words(text)
        best: tuple[int, int, str] | None = None
        for size in range(min(_MAX_GRAM, len(toks)), 0, -1):
            for start in range(len(toks) - size + 1):
                key = self.english.get(" ".join(toks[start:start + size]))
                if key is not None and (best is None or (size, start) > best[:2]):
                    best = (size, start, key)
            if best is not None:
                return best[2]
        return None

    def key_ko(self, name: str) -> str | None:
        """The Korean name this ingredient name is or ends in ("다진마늘" → garlic's key)."""
        name = _ko(name)
        if name in self.korean:
            return self.korean[name]
        for known in self.korean_by_length:
            if len(known) >= 2 and name.endswith(known):
                return self.korean[known]
        return None

    def key(self, text: str, language: str | None = None) -> str | None:
        if language == "ko" or (language is None and re.search(r"[\uac00-\ud7a3]", text)):
            return self.key_ko(text) or self.key_en(text)
        return self.key_en(text)

    def english_name(self, korean: str) -> str | None:
        """The English key of a Korean ingredient name, for prompts and search."""
        return self.key_ko(korean)


def _english_names(en: str) -> tuple[str, list[str]]:
    """"green onion, large (daepa)" → ("green onion", ["green onion", "daepa"])."""
    inside = re.findall(r"\(([^)]*)\)", en)
    head = re.sub(r"\([^)]*\)", " ", en).split(",")[0]
    main = " ".join(words(head))
    names = [main] + [" ".join(words(x)) for part in inside for x in part.split(";")]
    return main, [n for n in names if len(n) >= 3]


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The carried list (593 ingredients) as a `Vocabulary`; read once per process."""
    english: dict[str, str] = {}
    korean: dict[str, str] = {}
    with INGREDIENTS_CSV.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            main, names = _english_names(row["en"])
            for name in names:
                english.setdefault(name, main)
            for ko in [row["ko"], *row["ko_aliases"].split(";")]:
                if _ko(ko):
                    korean.setdefault(_ko(ko), main)
    # Generic tails as their own keys, so "2 cups rice" finds a key that "white rice" in stock covers.
    for name in list(english.values()):
        toks = name.split()
        for start in range(1, len(toks)):
            tail = " ".join(toks[start:])
            if tail not in _GENERIC:
                english.setdefault(tail, tail)
    return Vocabulary(english, korean, tuple(sorted(korean, key=len, reverse=True)))


def canonical(key: str, vocab: Vocabulary) -> str:
    """"minced garlic" → "garlic" when the list knows garlic: preparation does not change what is in stock."""
    toks = key.split()
    while len(toks) > 1 and toks[0] in _PREPARED and " ".join(toks[1:]) in vocab.english:
        toks = toks[1:]
        key = vocab.english[" ".join(toks)]
    return key


def covers(key: str) -> list[str]:
    """The keys a stock item with this key satisfies: itself and the generic names it ends in."""
    toks = key.split()
    return [key] + [t for t in (" ".join(toks[i:]) for i in range(1, len(toks))) if t not in _GENERIC]


def line_key(line: str, vocab: Vocabulary | None = None) -> str | None:
    """The ingredient key of one recipe line: a known name, else the parsed name normalised; None for nothing."""
    vocab = vocab or vocabulary()
    parsed = parse(line)
    name = parsed.name or ("" if parsed.unparsed else line)
    if parsed.language == "ko":
        key = vocab.key(name or line, "ko")
        return canonical(key, vocab) if key else (_ko(name) or None)
    key = vocab.key_en(name) if name else None
    key = key or vocab.key_en(line)
    if key:
        return canonical(key, vocab)
    return " ".join(words(name)) or None


# --- stock and recipes ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StockItem:
    """What is at hand. `days_left` until consume-by (negative when past it; None when unknown)."""

    name_en: str = ""
    name_ko: str = ""
    days_left: float | None = None


@dataclass(frozen=True, slots=True)
class RecipeInput:
    """A recipe to rank: the corpus's or a household's. `ingredients` are lines as written."""

    id: str
    title: str
    ingredients: tuple[str, ...]


@dataclass(frozen=True)
class Ranked:
    recipe_id: str
    title: str
    score: float  # breadth × (coverage + URGENCY_BONUS × urgency)
    coverage: float  # weighted share of the recipe's ingredients in stock, 0–1
    urgency: float  # weighted share of them that spoil soon, 0–1
    have: tuple[str, ...]
    missing: tuple[str, ...]


def urgency(days_left: float | None) -> float:
    """1 for today or tomorrow, falling to ~0.1 at three weeks; 0 when unknown."""
    if days_left is None:
        return 0.0
    return 1.0 if days_left <= 1 else 2.0 / (1.0 + days_left)


def stock_key(item: StockItem, vocab: Vocabulary | None = None) -> str | None:
    vocab = vocab or vocabulary()
    if item.name_ko and (key := vocab.key_ko(item.name_ko)):
        return canonical(key, vocab)
    if item.name_en:
        key = vocab.key_en(item.name_en)
        return canonical(key, vocab) if key else (" ".join(words(item.name_en)) or None)
    return _ko(item.name_ko) or None


class RecipeIndex:
    """Recipes as sparse rows of (ingredient key, weight); built once, queried many times."""

    def __init__(self, recipes: Iterable[RecipeInput], vocab: Vocabulary | None = None) -> None:
        self.vocab = vocab or vocabulary()
        self._columns: dict[tuple[str, str], tuple[int, ...]] = {}
        self.keys: dict[str, int] = {}
        self.ids: list[str] = []
        self.titles: list[str] = []
        cols: list[int] = []
        starts: list[int] = []
        cache: dict[str, str | None] = {}
        for recipe in recipes:
            row: dict[int, None] = {}
            for line in recipe.ingredients:
                if line not in cache:
                    cache[line] = line_key(line, self.vocab)
                key = cache[line]
                if key:
                    row.setdefault(self.keys.setdefault(key, len(self.keys)))
            if not row:
                continue  # nothing to match: it can never rank
            starts.append(len(cols))
            cols.extend(row)
            self.ids.append(recipe.id)
            self.titles.append(recipe.title)
        self.names = list(self.keys)
        self.cols = np.asarray(cols, dtype=np.int32)
        self.starts = np.asarray(starts, dtype=np.int64)
        staple = np.fromiter((name in STAPLES for name in self.names), dtype=bool, count=len(self.names))
        self.key_weight = np.where(staple, STAPLE_WEIGHT, 1.0).astype(np.float32)
        self.weights = self.key_weight[self.cols] if len(self.cols) else np.zeros(0, np.float32)
        self.totals = np.add.reduceat(self.weights, self.starts) if len(self.starts) else np.zeros(0, np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def rank(self, stock: Sequence[StockItem], *, limit: int = 20, exclude_titles: Sequence[str] = (),
             exclude_ingredients: Sequence[str] = (), include_expired: bool = False) -> list[Ranked]:
        """The best `limit` recipes for this stock; a recipe with nothing but staples in stock never ranks.

        `exclude_titles` drops recipes whose title is or nearly is one of them (`similar_title`);
        `exclude_ingredients` (allergies, dislikes; either language) drops recipes that use them.
        Items past their consume-by date count only with `include_expired`.
        """
        if not len(self.ids):
            return []
        have = np.zeros(len(self.names), dtype=np.float32)
        soon = np.zeros(len(self.names), dtype=np.float32)
        for item in stock:
            if item.days_left is not None and item.days_left < 0 and not include_expired:
                continue
            u = urgency(item.days_left)
            for idx in self._stock_columns(item):
                have[idx] = 1.0
                soon[idx] = max(soon[idx], u)
        if not have.any():
            return []
        have_w = have * self.key_weight
        got = have_w[self.cols]
        coverage = np.add.reduceat(got, self.starts) / self.totals
        urgent = np.add.reduceat(got * soon[self.cols], self.starts) / self.totals
        real = np.add.reduceat(have[self.cols] * (self.key_weight[self.cols] == 1.0), self.starts)
        # Breadth: a recipe that uses four things at hand beats a one-line recipe that uses one.
        breadth = 0.5 + 0.5 * np.minimum(real, BREADTH_FULL) / BREADTH_FULL
        score = np.where(real > 0, breadth * (coverage + URGENCY_BONUS * urgent), -1.0)
        banned = [self.keys[k] for k in (self._exclusion_key(x) for x in exclude_ingredients) if k in self.keys]
        if banned:
            mask = np.zeros(len(self.names), dtype=np.float32)
            mask[banned] = 1.0
            score[np.add.reduceat(mask[self.cols], self.starts) > 0] = -1.0
        want = min(len(score), limit + len(exclude_titles) + 8)
        top = np.argpartition(-score, want - 1)[:want] if want < len(score) else np.arange(len(score))
        top = top[np.lexsort((top, -score[top]))]
        out: list[Ranked] = []
        for i in top:
            if score[i] < 0 or len(out) >= limit:
                break
            if any(similar_title(self.titles[i], t) for t in exclude_titles):
                continue
            row = self.cols[self.starts[i]:self.starts[i + 1] if i + 1 < len(self.starts) else len(self.cols)]
            out.append(Ranked(self.ids[i], self.titles[i], float(score[i]), float(coverage[i]), float(urgent[i]),
                              tuple(self.names[c] for c in row if have[c]),
                              tuple(self.names[c] for c in row if not have[c])))
        if len(out) < limit and want < len(score) and exclude_titles and score[top[-1]] >= 0:
            # Excluded titles ate the candidates while more scored recipes lie below them.
            return self._rank_all(stock, limit, exclude_titles, exclude_ingredients, include_expired)
        return out

    def _stock_columns(self, item: StockItem) -> tuple[int, ...]:
        """The index columns a stock item covers; remembered, as households ask again and again."""
        name = (item.name_en, item.name_ko)
        found = self._columns.get(name)
        if found is None:
            key = stock_key(item, self.vocab)
            found = tuple(self.keys[c] for c in covers(key) if c in self.keys) if key else ()
            if len(self._columns) < 100_000:
                self._columns[name] = found
        return found

    def _rank_all(self, stock: Sequence[StockItem], limit: int, exclude_titles: Sequence[str],
                  exclude_ingredients: Sequence[str], include_expired: bool) -> list[Ranked]:
        """The rare case where excluded titles ate the candidates: look further down the list."""
        wider = self.rank(stock, limit=len(self.ids), exclude_titles=(), exclude_ingredients=exclude_ingredients,
                          include_expired=include_expired)
        return [r for r in wider if not any(similar_title(r.title, t) for t in exclude_titles)][:limit]

    def _exclusion_key(self, name: str) -> str:
        return self.vocab.key(name) or (" ".join(words(name)) if not re.search(r"[\uac00-\ud7a3]", name) else _ko(name))


@lru_cache(maxsize=1)
def corpus_index() -> RecipeIndex:
    """The shipped corpus as an index, built once per process (about a second)."""
    from boda.apps.pantry import corpus

    return RecipeIndex(RecipeInput(r.id, r.title, r.ingredients) for r in corpus.recipes())


def what_can_i_cook(stock: Sequence[StockItem], household: Sequence[RecipeInput] = (), *, limit: int = 20,
                    exclude_titles: Sequence[str] = (), exclude_ingredients: Sequence[str] = (),
                    include_expired: bool = False, with_corpus: bool = True) -> list[tuple[str, Ranked]]:
    """The household's own recipes and the corpus's, ranked together: `[("household" | "corpus", Ranked)]`.

    The household's index is built per call (its recipes change; a few hundred take well under a
    second); the corpus's once per process.
    """
    options = {"limit": limit, "exclude_titles": exclude_titles, "exclude_ingredients": exclude_ingredients,
               "include_expired": include_expired}
    found = [("household", r) for r in RecipeIndex(household).rank(stock, **options)] if household else []
    if with_corpus:
        found += [("corpus", r) for r in corpus_index().rank(stock, **options)]
    found.sort(key=lambda pair: (-pair[1].score, pair[0] != "household", pair[1].title))
    return found[:limit]
