"""The app spec: an app declared once is wired everywhere by the core."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from boda.core.apps import load, specs
from boda.core.config import Settings
from boda.web.i18n import catalogue


def test_every_spec_names_importable_parts() -> None:
    for spec in specs():
        for target in (spec.routes, spec.pages, spec.cli, spec.jobs, spec.models):
            if target:
                assert load(target) is not None, f"{spec.key}: {target}"


def test_app_settings_are_a_group_of_boda_settings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BODA_VISION__MNIST_DIR", "/tmp/digits")
    assert str(Settings().vision.mnist_dir) == "/tmp/digits"


def test_app_locales_join_the_catalogue() -> None:
    for spec in specs():
        if spec.locales_dir is None:
            continue
        for locale in ("en", "ko"):
            own = json.loads((spec.locales_dir / f"{locale}.json").read_text(encoding="utf-8"))
            assert own.items() <= catalogue(locale).items()
            assert f"app.{spec.key}" in own, "the home card's title"
        english = json.loads((spec.locales_dir / "en.json").read_text(encoding="utf-8"))
        korean = json.loads((spec.locales_dir / "ko.json").read_text(encoding="utf-8"))
        assert set(english) == set(korean), f"{spec.key}: keys missing in one language"


def test_home_nav_routes_and_static_come_from_the_specs(client: TestClient) -> None:
    home = client.get("/").text
    for spec in specs():
        if spec.href:
            assert f'href="{spec.href}"' in home
        if spec.static_dir:
            for path in spec.static_dir.iterdir():
                assert client.get(f"/static/{spec.key}/{path.name}").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/vision/digits" in paths
