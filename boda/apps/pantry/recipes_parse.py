"""Ingredient lines into amount, unit and name, in English and Korean, by rules.

Why rules and not `ingredient-parser-nlp`: that library needs NLTK's perceptron tagger data,
which it downloads at first use (impossible offline) and which would have to be carried and
pointed at; its model is English only, while a Korean household writes "간장 2큰술". The rules
here read the shapes recipe lines really have ("2 cups flour", "1 1/2 tsp salt", "½ onion,
sliced", "1 lb (450 g) beef", "양파 1개", "대파 1/2대", "소금 약간") and say so when a line
has none of them: `unparsed=True` with the original text kept, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FRACTIONS = {"½": 0.5, "⅓": 1 / 3, "⅔": 2 / 3, "¼": 0.25, "¾": 0.75, "⅕": 0.2, "⅖": 0.4, "⅗": 0.6, "⅘": 0.8,
              "⅙": 1 / 6, "⅚": 5 / 6, "⅛": 0.125, "⅜": 0.375, "⅝": 0.625, "⅞": 0.875}
_VULGAR = "".join(_FRACTIONS)

# English units: canonical name -> spellings (lower case; a trailing "." is dropped before lookup).
_EN_UNITS: dict[str, tuple[str, ...]] = {
    "cup": ("cup", "cups", "c"),
    "tbsp": ("tbsp", "tbsps", "tbs", "tbl", "tablespoon", "tablespoons", "tbsp.", "T"),
    "tsp": ("tsp", "tsps", "teaspoon", "teaspoons", "t"),
    "g": ("g", "gr", "gram", "grams", "gramme", "grammes"),
    "kg": ("kg", "kgs", "kilogram", "kilograms", "kilo", "kilos"),
    "mg": ("mg",),
    "ml": ("ml", "millilitre", "millilitres", "milliliter", "milliliters", "mL"),
    "cl": ("cl",),
    "dl": ("dl",),
    "l": ("l", "liter", "liters", "litre", "litres", "L"),
    "oz": ("oz", "ounce", "ounces"),
    "fl oz": ("fl oz", "fluid ounce", "fluid ounces", "fl. oz"),
    "lb": ("lb", "lbs", "pound", "pounds"),
    "pint": ("pint", "pints", "pt"),
    "quart": ("quart", "quarts", "qt"),
    "gallon": ("gallon", "gallons", "gal"),
    "pinch": ("pinch", "pinches"),
    "dash": ("dash", "dashes"),
    "drop": ("drop", "drops"),
    "clove": ("clove", "cloves"),
    "can": ("can", "cans", "tin", "tins"),
    "jar": ("jar", "jars"),
    "bottle": ("bottle", "bottles"),
    "package": ("package", "packages", "pkg", "packet", "packets", "pack", "packs"),
    "box": ("box", "boxes"),
    "bag": ("bag", "bags"),
    "slice": ("slice", "slices"),
    "piece": ("piece", "pieces", "pc", "pcs"),
    "stick": ("stick", "sticks"),
    "bunch": ("bunch", "bunches"),
    "handful": ("handful", "handfuls"),
    "sprig": ("sprig", "sprigs"),
    "stalk": ("stalk", "stalks"),
    "head": ("head", "heads"),
    "leaf": ("leaf", "leaves"),
    "sheet": ("sheet", "sheets"),
    "cm": ("cm",),
    "inch": ("inch", "inches", "in."),
    "dozen": ("dozen",),
    "scoop": ("scoop", "scoops"),
    "knob": ("knob",),
    "cube": ("cube", "cubes"),
    "fillet": ("fillet", "fillets"),
}
_SIZES = ("small", "medium", "large", "heaped", "heaping", "level", "rounded", "big", "generous", "scant")
_EN_UNIT_OF = {s.lower(): unit for unit, spellings in _EN_UNITS.items() for s in spellings if s not in ("T", "t")}
_EN_UNIT_RE = "|".join(sorted((re.escape(s) for s in _EN_UNIT_OF), key=len, reverse=True))

# Korean units (after the amount): canonical -> spellings.
_KO_UNITS: dict[str, tuple[str, ...]] = {
    "tbsp": ("큰술", "큰스푼", "숟가락", "숟갈", "스푼", "T", "Ts"),
    "tsp": ("작은술", "작은스푼", "티스푼", "t", "ts"),
    "cup": ("컵",),
    "g": ("g", "그램"), "kg": ("kg", "킬로그램", "킬로"), "ml": ("ml", "mL", "밀리리터", "cc"), "l": ("l", "L", "리터"),
    "개": ("개",), "대": ("대",), "쪽": ("쪽",), "장": ("장",), "줌": ("줌", "움큼"), "공기": ("공기",), "모": ("모",),
    "마리": ("마리",), "봉지": ("봉지", "봉"), "캔": ("캔",), "팩": ("팩",), "포기": ("포기",), "뿌리": ("뿌리",),
    "줄기": ("줄기",), "알": ("알",), "톨": ("톨",), "조각": ("조각",), "근": ("근",), "꼬집": ("꼬집",),
    "방울": ("방울",), "병": ("병",), "단": ("단",), "통": ("통",), "토막": ("토막",), "인분": ("인분",), "매": ("매",),
}
_KO_UNIT_OF = {s: unit for unit, spellings in _KO_UNITS.items() for s in spellings}
_KO_UNIT_RE = "|".join(sorted((re.escape(s) for s in _KO_UNIT_OF), key=len, reverse=True))
_KO_NUMBERS = {"한": 1.0, "하나": 1.0, "두": 2.0, "둘": 2.0, "세": 3.0, "셋": 3.0, "네": 4.0, "넷": 4.0, "다섯": 5.0,
               "반": 0.5}
# Quantities without a number: a recognised amount word, not a failure.
_KO_VAGUE = ("약간", "조금", "적당량", "적당히", "소량", "넉넉히", "취향껏", "기호에 따라", "한꼬집", "톡톡")
_EN_VAGUE = ("to taste", "as needed", "as required", "for frying", "for garnish", "for serving", "optional",
             "for greasing", "for dusting", "as desired", "a little", "some", "a pinch of", "a dash of", "a few",
             "a handful of", "pinch of", "dash of", "handful of")
_LEADING_VAGUE = ("some", "a little", "a pinch of", "a dash of", "a few", "a handful of", "pinch of", "dash of",
                  "handful of")

_NUM = rf"(?:\d+\s+\d+\s*/\s*\d+|\d+\s*[{_VULGAR}]|\d+\s*/\s*\d+|\d+(?:[.,]\d+)?|[{_VULGAR}])"
_RANGE = rf"(?P<amount>{_NUM})(?:\s*(?:-|–|—|~|to|or)\s*(?P<amount_max>{_NUM}))?"
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_EN_LINE = re.compile(
    rf"^(?:about\s+|approx\.?\s+|approximately\s+|around\s+)?{_RANGE}\s*"
    rf"(?:\((?P<paren>[^)]*)\)\s*)?"
    rf"(?:(?P<size>{'|'.join(_SIZES)})\s+)?"
    rf"(?:(?P<unit>{_EN_UNIT_RE}|T|t)\.?(?=[\s,(]|$)\s*)?"
    rf"(?:\((?P<paren2>[^)]*)\)\s*)?(?:of\s+)?(?P<name>.*)$",
    re.IGNORECASE)
_NAME_ONLY = re.compile(r"^[A-Za-z][A-Za-z' -]*(?:\([^)0-9]*\))?(?:,[A-Za-z ,-]*)?$")
_A_UNIT = re.compile(rf"^(?:an?|one)\s+(?P<unit>{_EN_UNIT_RE})\.?\s+(?:of\s+)?(?P<name>.+)$", re.IGNORECASE)
_KO_LINE = re.compile(
    rf"^(?P<name>.+?)\s*(?:\((?P<note>[^)]*)\)\s*)?"
    rf"(?P<qty>(?:{_RANGE})|(?P<word>한|하나|두|둘|세|셋|네|넷|다섯|반))\s*(?P<unit>{_KO_UNIT_RE})?"
    rf"\s*(?:\((?P<note2>[^)]*)\))?\s*$")


@dataclass(frozen=True, slots=True)
class ParsedIngredient:
    """One ingredient line read. `unparsed` lines keep only `text`: nothing was guessed from them."""

    text: str
    name: str | None = None
    amount: float | None = None
    amount_max: float | None = None  # the upper end of a range ("1–2 tbsp")
    unit: str | None = None  # canonical: "cup", "tbsp", "g", "개", "대", ...
    note: str = ""  # preparation or comment ("thinly sliced", "optional")
    vague: str = ""  # an amount said in words ("to taste", "약간")
    language: str = "en"
    unparsed: bool = False

    @property
    def complete(self) -> bool:
        """Amount, unit and name all read (a count such as "3 eggs" has no unit and is not complete)."""
        return self.amount is not None and self.unit is not None and bool(self.name)


def number(text: str) -> float | None:
    """"1 1/2" → 1.5, "½" → 0.5, "1½" → 1.5, "0,5" → 0.5; None if not a number."""
    text = text.strip().replace(",", ".")
    total = 0.0
    for vulgar, value in _FRACTIONS.items():
        if vulgar in text:
            text = text.replace(vulgar, "").strip()
            total += value
    if not text:
        return total or None
    parts = text.split()
    try:
        for part in parts:
            if "/" in part:
                top, bottom = part.split("/")
                total += float(top) / float(bottom)
            else:
                total += float(part)
    except (ValueError, ZeroDivisionError):
        return None
    return total


_SPACES = re.compile(r"\s+")
_PAREN = re.compile(r"\(([^)]*)\)")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip(" ,;:-–—*")


def _split_note(name: str) -> tuple[str, str]:
    """"onion, thinly sliced" → ("onion", "thinly sliced"); "beef (optional)" → ("beef", "optional")."""
    if "(" not in name and "," not in name:
        return _clean(name), ""
    notes = [n.strip() for n in _PAREN.findall(name)]
    name = _PAREN.sub(" ", name)
    head, _, tail = name.partition(",")
    if tail.strip():
        notes.insert(0, tail.strip())
    return _clean(head), "; ".join(n for n in notes if n)


def _vague_en(text: str) -> tuple[str, str] | None:
    lower = text.lower()
    for word in _EN_VAGUE:
        if word in _LEADING_VAGUE:
            if lower.startswith(word + " "):
                return _clean(text[len(word):]), word
        elif word in lower:
            start = lower.index(word)
            name = _clean(text[:start] + text[start + len(word):])
            return name, word
    return None


def parse_en(text: str) -> ParsedIngredient:
    line = _clean(text)
    if match := _EN_LINE.match(line):
        amount = number(match["amount"])
        name, note = _split_note(match["name"])
        unit_text = match["unit"]
        unit = None
        if unit_text:
            unit = "tbsp" if unit_text == "T" else "tsp" if unit_text == "t" else _EN_UNIT_OF.get(unit_text.lower())
        extra = [p for p in (match["paren"], match["paren2"]) if p]
        if match["size"]:
            extra.insert(0, match["size"].lower())
        note = "; ".join([*extra, note] if note else extra)
        if amount is not None and name and re.search(r"[A-Za-z]", name):
            return ParsedIngredient(text, name, amount, number(match["amount_max"]) if match["amount_max"] else None,
                                    unit, note, language="en")
    if match := _A_UNIT.match(line):
        name, note = _split_note(match["name"])
        return ParsedIngredient(text, name, 1.0, None, _EN_UNIT_OF[match["unit"].lower()], note, language="en")
    if (vague := _vague_en(line)) and vague[0] and len(vague[0].split()) <= 6:
        name, note = _split_note(vague[0])
        if name:
            return ParsedIngredient(text, name, None, None, None, note, vague[1], language="en")
    if _NAME_ONLY.match(line):  # "Salt", "Olive oil (extra virgin)": a name with no amount given, nothing to guess
        name, note = _split_note(line)
        if name:
            return ParsedIngredient(text, name, None, None, None, note, language="en")
    return ParsedIngredient(text, language="en", unparsed=True)


_KO_GROUP = re.compile(r"^\s*[\[【<]([^\]】>]*)[\]】>]\s*")
_KO_TAIL_NOTE = re.compile(r"\s*\(([^)]*)\)\s*$")


def _ko_name(name: str) -> tuple[str, str]:
    """Korean names keep their commas ("소금, 후추"); only parentheses hold notes."""
    notes = [n.strip() for n in _PAREN.findall(name)]
    return _clean(_PAREN.sub(" ", name)), "; ".join(n for n in notes if n)


def parse_ko(text: str) -> ParsedIngredient:
    line = _clean(text)
    notes: list[str] = []
    if group := _KO_GROUP.match(line):  # "[양념] 간장 2큰술": the group is a note
        notes.append(group.group(1).strip())
        line = line[group.end():]
    while tail := _KO_TAIL_NOTE.search(line):  # "당근 약간(선택)"
        notes.insert(len(notes), tail.group(1).strip())
        line = line[:tail.start()]
    half = 0.0
    if line.endswith(" 반") and re.search(rf"\d\s*(?:{_KO_UNIT_RE}) 반$", line):  # "고추장 2큰술 반" = 2.5
        half, line = 0.5, line[:-2]
    for word in _KO_VAGUE:
        if line.endswith(word):
            name, note = _ko_name(line[: -len(word)])
            if name:
                return ParsedIngredient(text, name, None, None, None, "; ".join(n for n in (note, *notes) if n), word,
                                        language="ko")
    if match := _KO_LINE.match(line):
        name, note = _ko_name(match["name"])
        notes = [n for n in (note, match["note"], match["note2"], *notes) if n]
        if match["word"]:
            amount, amount_max = _KO_NUMBERS[match["word"]], None
            if not match["unit"]:  # "반" alone is a word in a name, not an amount
                return ParsedIngredient(text, language="ko", unparsed=True)
        else:
            amount = number(match["amount"])
            amount_max = number(match["amount_max"]) if match["amount_max"] else None
        unit = _KO_UNIT_OF.get(match["unit"]) if match["unit"] else None
        if name and amount is not None:
            return ParsedIngredient(text, name, amount + half, amount_max, unit, "; ".join(notes), language="ko")
    return ParsedIngredient(text, language="ko", unparsed=True)


def parse(text: str, language: str | None = None) -> ParsedIngredient:
    """Read one ingredient line; the language is taken from the text (Hangul → Korean) unless given."""
    if language is None:
        language = "ko" if _HANGUL.search(text) else "en"
    if language == "ko":
        parsed = parse_ko(text)
        if parsed.unparsed and not _HANGUL.search(text):
            return parse_en(text)
        return parsed
    return parse_en(text)


def parse_all(lines: list[str] | tuple[str, ...], language: str | None = None) -> list[ParsedIngredient]:
    return [parse(line, language) for line in lines]
