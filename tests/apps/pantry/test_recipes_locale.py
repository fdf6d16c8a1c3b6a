"""Every error key the recipe modules raise has English and Korean text, ready to merge into Pantry's locales."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import boda

PANTRY = Path(boda.__file__).parent / "apps" / "pantry"


def test_every_key_raised_has_both_texts() -> None:
    texts = json.loads((PANTRY / "recipes_locale.json").read_text(encoding="utf-8"))
    keys = set()
    for path in [*PANTRY.glob("recipes_*.py"), *PANTRY.glob("corpus*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                for kw in node.exc.keywords:
                    if kw.arg == "key":
                        assert isinstance(kw.value, ast.Constant), f"{path.name}:{node.lineno}"
                        keys.add(f"error.{kw.value.value}")
    assert len(keys) >= 8
    assert keys <= set(texts["en"]) and keys <= set(texts["ko"])
    assert set(texts["en"]) == set(texts["ko"]) == keys  # nothing stale either
