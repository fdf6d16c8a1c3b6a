"""Receipt to ingredients: Tesseract (Korean + English) reads the lines, rules find names and amounts.

A receipt line is one product: `대파 1단 2,980`, `두부 300g 1,500`, `BANANA 1.2kg 3,990`. The rules look
for the longest ingredient name of the Korean–English table in the line (Korean names and aliases
anywhere in it, except one-syllable names, which must stand alone: 무, 김, 파 hide inside too many
words; English names as whole words), and an amount with a unit next to it. Prices, totals and bags
match no ingredient and are left out. With a chat model configured, it reads the OCR text as well
("list the groceries as JSON") and its names merge with the rules' (best confidence wins, as in
`recognise.merge`).

Confidence: the mean of Tesseract's word confidences on the line, times 0.8 when the name was found
inside a longer word (`유기농대파`) rather than standing alone. It says how well the line was read, not
whether the product is that ingredient.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

from PIL import Image

from boda.apps.pantry import shelf_life
from boda.apps.pantry.recognise import Said, merge, one_name_per_box

SOURCE = "tesseract+rules"
UNITS = ("kg", "g", "ml", "mL", "l", "L", "개", "팩", "봉", "병", "단", "입", "구", "마리", "캔", "알", "포기", "묶음")
AMOUNT = re.compile(r"(?<![\d,.])(\d+(?:\.\d+)?)\s*(" + "|".join(sorted(UNITS, key=len, reverse=True))
                    + r")(?![A-Za-z가-힣])")
INSIDE = 0.8

LLM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"items": {"type": "array", "maxItems": 60, "items": {
        "type": "object",
        "properties": {"name_ko": {"type": "string", "maxLength": 64}, "name_en": {"type": "string", "maxLength": 64},
                       "quantity": {"type": "number", "minimum": 0}, "unit": {"type": "string", "maxLength": 16},
                       "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
        "required": ["name_ko", "name_en", "quantity", "unit", "confidence"], "additionalProperties": False}}},
    "required": ["items"], "additionalProperties": False,
}
LLM_PROMPT = ("These are the lines of a grocery receipt as OCR read them (with mistakes). List the food products "
              "bought as JSON: Korean name (name_ko, as on a Korean shopping list), English name (name_en), the "
              "amount (quantity and unit, e.g. 300 and g, or 1 and 개) and how sure you are (confidence, 0 to 1). "
              "Leave out prices, totals, bags, discounts and anything that is not food.\n\n")


@dataclass(frozen=True)
class Line:
    text: str
    box: tuple[int, int, int, int]
    confidence: float


@cache
def _names() -> tuple[list[tuple[str, shelf_life.Ingredient]], list[tuple[re.Pattern[str], shelf_life.Ingredient]]]:
    """Korean names and aliases (longest first), and English names as whole-word patterns (longest first)."""
    korean: dict[str, shelf_life.Ingredient] = {}
    english: dict[str, shelf_life.Ingredient] = {}
    for item in shelf_life.ingredients():
        for name in (item.ko, *item.aliases):
            korean.setdefault(name.replace(" ", ""), item)
        plain = re.sub(r"\s*\(.*?\)", "", item.en).split(",")[0].strip().casefold()
        if len(plain) >= 3:
            english.setdefault(plain, item)
    ko = sorted(korean.items(), key=lambda kv: -len(kv[0]))
    en = [(re.compile(r"\b" + re.escape(name) + r"(?:e?s)?\b", re.IGNORECASE), item)
          for name, item in sorted(english.items(), key=lambda kv: -len(kv[0]))]
    return ko, en


def find_name(text: str) -> tuple[shelf_life.Ingredient, float] | None:
    """The ingredient a receipt line names, and 1.0 (stands alone) or INSIDE (found inside a longer word)."""
    korean, english = _names()
    text = unicodedata.normalize("NFKC", text)
    words = [w for w in re.split(r"[\s/()\[\]*·,]+", text) if w]
    squeezed = "".join(words)
    for name, item in korean:
        if len(name) == 1:
            if name in words:
                return item, 1.0
        elif name in squeezed:
            alone = any(w == name or re.fullmatch(re.escape(name) + r"[\d.]*\w{0,2}", w) for w in words)
            return item, 1.0 if alone else INSIDE
    for pattern, item in english:
        if pattern.search(text):
            return item, 1.0
    return None


def find_amount(text: str) -> tuple[float, str] | None:
    """An amount with its unit (`300g`, `1 단`, `1.2kg`); prices (`2,980`) have no unit and are not amounts."""
    match = AMOUNT.search(unicodedata.normalize("NFKC", text))
    if match is None:
        return None
    unit = match.group(2)
    return float(match.group(1)), {"l": "L", "mL": "ml"}.get(unit, unit)


def lines_of(words: list[Any]) -> list[Line]:
    """Tesseract's words grouped into lines by their vertical centres (receipts are one column)."""
    rows: list[list[Any]] = []
    for word in sorted(words, key=lambda w: (w.box[1] + w.box[3] / 2, w.box[0])):
        centre = word.box[1] + word.box[3] / 2
        if rows and abs(centre - (rows[-1][0].box[1] + rows[-1][0].box[3] / 2)) < 0.6 * rows[-1][0].box[3]:
            rows[-1].append(word)
        else:
            rows.append([word])
    out = []
    for row in rows:
        row.sort(key=lambda w: w.box[0])
        x1, y1 = min(w.box[0] for w in row), min(w.box[1] for w in row)
        x2, y2 = max(w.box[0] + w.box[2] for w in row), max(w.box[1] + w.box[3] for w in row)
        out.append(Line(" ".join(w.text for w in row), (x1, y1, x2 - x1, y2 - y1),
                        sum(w.confidence for w in row) / len(row)))
    return out


def by_rules(lines: list[Line]) -> list[tuple[shelf_life.Ingredient, Said, tuple[float, str] | None]]:
    found = []
    for line in lines:
        named = find_name(line.text)
        if named is not None:
            item, quality = named
            found.append((item, Said(SOURCE, line.text, line.confidence * quality, line.box), find_amount(line.text)))
    return found


def by_llm(chat: Any, text: str) -> tuple[str, list[tuple[Any, Said, tuple[float, str] | None]]]:
    from boda.ai.llm import run_sync

    result = run_sync(chat.chat([{"role": "user", "content": LLM_PROMPT + text}], json_schema=LLM_SCHEMA,
                                temperature=0.0, max_tokens=900))
    source = f"llm:{result.model or chat.model or chat.name}"[:64]
    by_ko = {i.ko: i for i in shelf_life.ingredients()}
    found: list[tuple[Any, Said, tuple[float, str] | None]] = []
    for entry in result.data["items"]:
        ko, en = entry["name_ko"].strip(), entry["name_en"].strip()
        if not ko and not en:
            continue
        life = shelf_life.lookup(ko or en)
        if not life.known and en:
            life = shelf_life.lookup(en)
        item: Any = by_ko.get(life.name_ko or "") if life.known else None
        if item is None:
            item = shelf_life.Ingredient(ko or en, en or ko, life.category or "other", "", (), None)
        amount = (float(entry["quantity"]), entry["unit"].strip()[:16]) if entry["quantity"] else None
        found.append((item, Said(source, f"{ko} / {en}".strip(" /"), float(entry["confidence"])), amount))
    return source, found


def read_receipt(image: Image.Image, *, reader: Any, chat: Any = None, progress: Any = None) -> dict[str, Any]:
    """OCR, then the rules (and the chat model when configured): candidates with amounts, in recognise's shape."""
    tell = progress or (lambda fraction, message: None)
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    tell(0.1, "ocr")
    start = time.perf_counter()
    lines = lines_of(reader.read(image).words)
    seconds["tesseract"] = time.perf_counter() - start
    found = by_rules(lines)
    if chat is not None and getattr(chat, "available", False) and lines:
        tell(0.6, "llm")
        start = time.perf_counter()
        try:
            source, named = by_llm(chat, "\n".join(line.text for line in lines))
            found += named
        except Exception as exc:  # noqa: BLE001 - reported; the rules' answer stands
            source = f"llm:{getattr(chat, 'model', '')}"
            errors[source] = str(exc)[:300]
        seconds[source] = time.perf_counter() - start
    kept, alternatives = one_name_per_box([(item, said) for item, said, _ in found])
    candidates = [c.as_dict() for c in merge(kept, alternatives)]
    amounts: dict[str, tuple[float, str]] = {}
    for item, _said, amount in sorted(found, key=lambda f: -f[1].confidence):
        if amount is not None:
            amounts.setdefault(item.ko, amount)
    for candidate in candidates:
        quantity, unit = amounts.get(candidate["name_ko"], (float(candidate["count"]), ""))
        candidate["quantity"], candidate["unit"] = quantity, unit
    tell(1.0, "done")
    return {"width": image.width, "height": image.height, "candidates": candidates,
            "lines": [line.text for line in lines], "seconds": {k: round(v, 3) for k, v in seconds.items()},
            "errors": errors}
