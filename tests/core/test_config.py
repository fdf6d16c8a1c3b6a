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
    monkeypatch.setenv("BODA_CONFIG", "")
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


def test_storage_options_as_toml_or_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's forms: an inline table in boda.toml, and JSON or TOML in the environment."""
    toml = tmp_path / "boda.toml"
    toml.write_text('[storage]\nurl = "az://boda/blobs"\noptions = { connection_string = "AccountKey=abc;x=1" }\n')
    monkeypatch.setenv("BODA_CONFIG", str(toml))
    assert Settings().storage.options == {"connection_string": "AccountKey=abc;x=1"}
    monkeypatch.setenv("BODA_STORAGE__OPTIONS", '{connection_string = "from env"}')
    assert Settings().storage.options == {"connection_string": "from env"}
    monkeypatch.setenv("BODA_STORAGE__OPTIONS", '{"key": "k", "secret": "s"}')  # key by key over the file's
    assert Settings().storage.options == {"connection_string": "AccountKey=abc;x=1", "key": "k", "secret": "s"}
    monkeypatch.setenv("BODA_AI__PROVIDER_LIMITS", "{yolox_nano = 1}")
    assert Settings().ai.provider_limits == {"yolox_nano": 1}


def test_bad_settings_are_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from boda.core.config import get_settings
    from boda.core.errors import ConfigError

    monkeypatch.setenv("BODA_CONFIG", "")
    cases = {
        ("BODA_PORT", "abc"): "BODA_PORT: Input should be a valid integer, unable to parse string as an integer, "
                              "got 'abc'",
        ("BODA_STORAGE__OPTIONS", "{oops"): "BODA_STORAGE__OPTIONS: expected JSON or a TOML value",
        ("BODA_CONFIG", str(tmp_path / "gone.toml")): f"BODA_CONFIG names {tmp_path / 'gone.toml'}, which is not",
    }
    for (name, value), expected in cases.items():
        with monkeypatch.context() as env:
            env.setenv(name, str(value))
            get_settings.cache_clear()
            with pytest.raises(ConfigError) as caught:
                get_settings()
            assert caught.value.message.startswith(expected), caught.value.message
            assert "\n" not in caught.value.message and "pydantic" not in caught.value.message
    get_settings.cache_clear()
    toml = tmp_path / "boda.toml"
    toml.write_text("[db]\nurl = 'postgresql://u:hunter2@h/db'\npool_size = 'many'\n")
    monkeypatch.setenv("BODA_CONFIG", str(toml))
    with pytest.raises(ConfigError) as caught:
        get_settings()
    assert caught.value.message.startswith(f"db.pool_size in {toml}: Input should be a valid integer")
    get_settings.cache_clear()


def test_the_command_exits_2_with_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "BODA_CONFIG": "", "BODA_PORT": "abc", "BODA_DATA_DIR": str(tmp_path),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "COLUMNS": "40"}
    done = subprocess.run([sys.executable, "-m", "boda", "config", "show"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == ("BODA_PORT: Input should be a valid integer, unable to parse string as an "
                                   "integer, got 'abc'")
    assert done.stdout == ""
