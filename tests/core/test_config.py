from pathlib import Path

import pytest

from boda.core.config import Settings, masked


def test_env_nested_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "boda.toml"
    toml.write_text('port = 9000\n[jobs]\nworkers = 7\n[db]\nurl = "sqlite:///from-toml.db"\n')
    monkeypatch.setenv("BODA_CONFIG", str(toml))
    monkeypatch.setenv("BODA_DB__URL", "postgresql+psycopg://u:secretpw@db/boda")
    settings = Settings()
    assert settings.port == 9000
    assert settings.jobs.workers == 7
    assert settings.database_url == "postgresql+psycopg://u:secretpw@db/boda"  # env beats toml


def test_defaults_live_under_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BODA_CONFIG", str(tmp_path / "missing.toml"))
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'boda.db'}"
    assert settings.jobs_url.endswith("queue.db")
    assert settings.storage_url == str(tmp_path.resolve() / "blobs")


def test_masked_hides_secrets() -> None:
    settings = Settings(db={"url": "postgresql+psycopg://u:pw123@h/db"},
                        storage={"url": "az://c", "options": {"connection_string": "AccountKey=abc"}})
    shown = str(masked(settings))
    assert "pw123" not in shown and "AccountKey" not in shown
    assert "postgresql+psycopg://u:********@h/db" in shown


def test_every_setting_is_documented_in_the_readme() -> None:
    from pydantic import BaseModel

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()

    def names(model: type[BaseModel], env: str) -> list[str]:
        out: list[str] = []
        for name, field in model.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                out += names(field.annotation, f"{env}{name.upper()}__")
            else:
                out.append(f"{env}{name.upper()}")
        return out

    missing = [n for n in names(Settings, "BODA_") if f"`{n}`" not in readme]
    assert not missing, f"README lacks {missing}"
