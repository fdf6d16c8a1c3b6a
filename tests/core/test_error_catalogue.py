"""Every error a person can meet has a key with Korean text, and no message names an internal class."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import boda
from boda.core import errors
from boda.core.apps import load_models
from boda.core.db import Base
from boda.core.models import Owned
from boda.web.i18n import catalogue
from tests.conftest import Account

PACKAGE = Path(boda.__file__).parent
ERROR_CLASSES = {name for name, value in vars(errors).items()
                 if isinstance(value, type) and issubclass(value, errors.BodaError)}
# Preconditions of model code that callers reach only through validated inputs, and model files
# an operator fixes (their English message names the file): the catalogue's per-code text covers them.
KEYLESS = {"boda/ai/"}


def _raise_sites() -> list[tuple[str, int, ast.Call]]:
    sites = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                # ConfigError stops a process before it serves anyone: it speaks to the operator's console.
                if name in ERROR_CLASSES and name not in ("BodaError", "ConfigError"):
                    sites.append((rel, node.lineno, node.exc))
    return sites


def _owned_noun_keys() -> set[str]:
    load_models()
    return {m.class_.noun_key for m in Base.registry.mappers if issubclass(m.class_, Owned)}


def test_every_raise_site_has_a_translated_key() -> None:
    korean, english = catalogue("ko"), catalogue("en")
    missing, untranslated = [], []
    sites = _raise_sites()
    assert len(sites) > 50  # the walk finds them
    for rel, line, call in sites:
        key = next((kw.value for kw in call.keywords if kw.arg == "key"), None)
        if key is None:
            if not any(rel.startswith(prefix) for prefix in KEYLESS):
                missing.append(f"{rel}:{line}")
            continue
        if isinstance(key, ast.Constant):
            keys = {key.value}
        elif isinstance(key, ast.JoinedStr) and ast.unparse(key) == "f'{model.noun_key}_not_found'":
            keys = {f"{noun}_not_found" for noun in _owned_noun_keys()}
        else:
            pytest.fail(f"{rel}:{line}: a key the test cannot read: {ast.unparse(key)}")
        untranslated += [f"{rel}:{line} error.{k}" for k in keys if f"error.{k}" not in korean]
        untranslated += [f"{rel}:{line} error.{k} (en)" for k in keys if f"error.{k}" not in english]
    assert not missing, f"raise sites without key=: {missing}"
    assert not untranslated, f"keys without Korean or English text: {untranslated}"


def test_every_code_has_a_fallback_text() -> None:
    for name in ERROR_CLASSES:
        code = getattr(errors, name).code
        assert f"error.code.{code}" in catalogue("ko"), code


def test_no_message_names_a_class() -> None:
    """`f"No {model.__name__} ..."` showed people `StoredFile`; messages use nouns."""
    for rel, line, call in _raise_sites():
        for arg in call.args[:1]:
            text = ast.unparse(arg)
            assert "__name__" not in text and "type(" not in text, f"{rel}:{line}: {text}"


def test_not_found_speaks_the_callers_language(client: TestClient, alice: Account) -> None:
    missing = "01900000-0000-7000-8000-000000000000"
    english = alice.get(f"/api/v1/files/{missing}").json()["error"]["message"]
    assert english == f"No file with id {missing}"
    korean = alice.get(f"/api/v1/files/{missing}", headers={"accept-language": "ko"}).json()["error"]["message"]
    assert korean == "없는 파일이거나 볼 수 없는 파일입니다."
    made = alice.get(f"/api/v1/vision/anonymizations/{missing}").json()["error"]["message"]
    assert "Anonymization" not in made and made == f"No anonymised photo with id {missing}"
    job = alice.get(f"/api/v1/jobs/{missing}", headers={"accept-language": "ko"}).json()["error"]["message"]
    assert job == "없는 작업이거나 볼 수 없는 작업입니다."
