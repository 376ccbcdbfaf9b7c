"""One settings model for every option of shimmy-lab.

Precedence, highest first: explicit values (CLI flags, keyword arguments) >
environment variables ``SHIMMY_*`` > ``shimmy.toml`` > defaults. The TOML file is
``--config`` / ``config=...``, else ``$SHIMMY_CONFIG``, else ``./shimmy.toml`` if it
exists. Nested sections use one underscore in the environment
(``SHIMMY_NARRATIVE_ENABLED``) and a table in TOML (``[narrative]``).

>>> from shimmy_lab.settings import Settings
>>> s = Settings.load(port=8080)
>>> s.port
8080
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .cores import usable_cores

__all__ = ["Settings", "NarrativeSettings", "LimitSettings", "ResourceSettings", "CacheSettings", "TracingSettings",
           "LIVE_FIELDS", "DEFAULT_ASSERTIVENESS", "LEVELS", "config_path", "default_store"]

#: How much narrative context goes to a model (0..1) when nothing else says: the one default
#: of ``sl.analyze``, ``sl.context``, the Writer widget and the server's ``[narrative]``.
DEFAULT_ASSERTIVENESS = 0.6

#: Settings that a running server picks up when ``shimmy.toml`` changes.
LIVE_FIELDS = ("max_body_bytes", "max_prompt_tokens", "queue_timeout", "log_level", "narrative", "limits",
               "resources")

#: The analysis intensity levels of the server's resource manager, lowest first.
LEVELS = ("minimal", "reduced", "normal", "maximum")


class NarrativeSettings(BaseModel):
    """The ``[narrative]`` section (used by the narrative routes and the assistant)."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = Field(True, description="Attach narrative context and insights to generations "
                          "that name a story (metadata.story_id or X-Shimmy-Story).")
    assertiveness: float = Field(DEFAULT_ASSERTIVENESS, ge=0.0, le=1.0, description="How much narrative context to inject (0..1).")
    voice_model: str = Field("none", description="Model that also scores unusual lines for voice drift "
                             "(a model id, or 'bundled': slower); 'none' (default): the lexical check only.")
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Parameters per narrative system over its defaults, e.g. "
        "[narrative.params.dna] max_insights = 3 (fields of the system's params dataclass; "
        "checked when an analysis runs); on the command line or in the environment as JSON.")

    @field_validator("params", mode="before")
    @classmethod
    def _params_json(cls, v: Any) -> Any:
        """``--narrative-params '{"dna": {"max_insights": 3}}'``: a JSON object."""
        if isinstance(v, str):
            try:
                return json.loads(v) if v.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"narrative.params: not a JSON object: {exc}") from None
        return v


class LimitSettings(BaseModel):
    """The ``[limits]`` section: per-client rate limits of the server (0: no limit).

    A client is its API key, or its address when the server has no keys; see
    :mod:`shimmy_lab.server.limits`.
    """

    requests_per_minute: int = Field(0, ge=0, description="Requests per minute per client (0: no limit).")
    tokens_per_minute: int = Field(0, ge=0, description="Prompt + completion tokens per minute per client "
                                   "(0: no limit).")


class ResourceSettings(BaseModel):
    """The ``[resources]`` section: the analysis intensity level chosen from CPU and memory use.

    A level is kept while CPU use stays below its ``cpu_*_below`` and memory use below its
    ``memory_*_below`` (percent of the machine, sampled by ``psutil`` every ``interval`` s):
    ``maximum`` (every enabled system and the model stage of ``voice_drift``), ``normal``
    (every enabled system, lexical voice check), ``reduced`` (``reduced_systems``),
    ``minimal`` (``minimal_systems``). See :mod:`shimmy_lab.server.resources`.
    """

    level: Literal["auto", "minimal", "reduced", "normal", "maximum"] = Field(
        "auto", description="Analysis intensity: 'auto' (from CPU and memory use) or a fixed level.")
    cpu_maximum_below: float = Field(50.0, ge=0, le=100, description="CPU use (%) under which the level is maximum.")
    cpu_normal_below: float = Field(85.0, ge=0, le=100, description="CPU use (%) under which it is at least normal.")
    cpu_reduced_below: float = Field(95.0, ge=0, le=100, description="CPU use (%) under which it is at least "
                                     "reduced (above: minimal).")
    memory_maximum_below: float = Field(60.0, ge=0, le=100, description="Memory use (%) under which the level "
                                        "is maximum.")
    memory_normal_below: float = Field(80.0, ge=0, le=100, description="Memory use (%) under which it is at least "
                                       "normal.")
    memory_reduced_below: float = Field(90.0, ge=0, le=100, description="Memory use (%) under which it is at "
                                        "least reduced (above: minimal).")
    interval: float = Field(2.0, ge=0, description="Seconds between two samples of CPU and memory use.")
    reduced_systems: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["characters", "drift", "dna", "engagement"],
        description="Narrative systems run on an append at the reduced level.")
    minimal_systems: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["characters"], description="Narrative systems run on an append at the minimal level.")
    max_stories: int = Field(256, ge=0, description="Stored stories held in memory at most (the least recently "
                             "used leave memory, not the store; 0: no cap).")
    insight_history: int = Field(200, ge=0, description="Insights raised by appends remembered per story.")

    @field_validator("reduced_systems", "minimal_systems", mode="before")
    @classmethod
    def _systems(cls, v: Any) -> Any:
        return [p.strip() for p in v.split(",") if p.strip()] if isinstance(v, str) else v


class CacheSettings(BaseModel):
    """The ``[cache]`` section: the analysis cache (L1 memory, L2 store folder, L3 Redis)."""

    entries: int = Field(128, ge=0, description="Analyses kept in the process (L1, least recently used out; "
                         "0: no L1).")
    folder: bool = Field(True, description="Keep analyses in the store folder (L2, with a folder --store).")
    folder_entries: int = Field(2048, ge=1, description="Analyses kept in the store folder at most.")
    redis: bool = Field(True, description="Keep analyses in Redis (L3, with --redis).")
    redis_ttl: int = Field(7 * 24 * 3600, ge=1, description="Seconds an analysis stays in Redis.")


class TracingSettings(BaseModel):
    """The ``[tracing]`` section: OpenTelemetry traces (off unless an endpoint is set)."""

    otlp_endpoint: str | None = Field(None, description="OTLP/HTTP traces endpoint, e.g. "
                                      "http://collector:4318/v1/traces (unset: no traces).")
    service_name: str = Field("shimmy-lab", description="service.name of the traces.")
    sample_ratio: float = Field(1.0, ge=0, le=1, description="Share of requests traced.")


class Settings(BaseSettings):
    """Every option of the server, the CLI and the Jupyter magics.

    Build it with :meth:`Settings.load`, which also records where each value came
    from (see :meth:`sources`).
    """

    model_config = SettingsConfigDict(
        env_prefix="SHIMMY_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
        validate_default=True,
    )

    host: str = Field("127.0.0.1", description="Interface to bind.")
    port: int | Literal["auto"] = Field(11435, description="Port to bind, or 'auto' for the first free port from 11435.")
    model: str | None = Field(None, description="Default model id or path (default: bundled SmolLM2-135M-Instruct).")
    models_max_loaded: int = Field(2, ge=1, description="How many models stay loaded (LRU).")
    model_paths: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, json_schema_extra={"cli": "--model-path"},
        description="Extra folders searched for models (SHIMMY_MODEL_PATHS: separated by the OS path separator).")
    datasets: Path | None = Field(None, description="Folder of texts with a MANIFEST.json read by sl.datasets "
                                  "(default: the bundled texts).")
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Accepted API keys (none: no auth).",
                                json_schema_extra={"cli": "--api-key"})
    api_key_file: Path | None = Field(None, description="File with one accepted API key per line.")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Allowed CORS origins (none by default).",
                                    json_schema_extra={"cli": "--cors-origin"})
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1, description="Largest accepted request body in bytes.")
    max_prompt_tokens: int | None = Field(None, ge=1, description="Longest accepted prompt in tokens (default: the context).")
    parallel: int | Literal["auto"] = Field("auto", description="Generation slots per model, or 'auto': 4 "
                                            "sequences of one batched context for llama.cpp models (see "
                                            "batch_slots), else one engine per core, at most 4 (see auto_slots).")
    batching: bool = Field(True, description="llama.cpp models: decode the --parallel requests together in one "
                           "context (llama.cpp batch API); --no-batching: one context per slot.")
    kv_unified: bool = Field(False, description="llama.cpp models with batching: one KV buffer shared by the "
                             "batched sequences, as llama.cpp's llama-server (no faster here with flash attention "
                             "on; a request's text then depends on the other requests, even with a seed).")
    queue_size: int = Field(16, ge=0, description="Requests that may wait for a slot before 429.")
    queue_timeout: float = Field(60.0, gt=0, description="Seconds a request may wait for a slot before 503.")
    n_ctx: int | None = Field(None, ge=16, description="Context length of loaded models (default: the model's).")
    threads: int | None = Field(None, ge=1, description="CPU threads per slot (default: cores / parallel).")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field("info", description="Log level.")
    log_format: Literal["text", "json"] = Field("text", description="Log lines as text, or as JSON objects (time, "
                                                "level, logger, message, request_id).")
    config: Path | None = Field(None, description="shimmy.toml path (also $SHIMMY_CONFIG).")
    config_reload: float = Field(1.0, ge=0, description="Seconds between checks of the config file (0: never).")
    store: Path | None = Field(default_factory=lambda: default_store(), description="Folder where the server "
                               "saves the stories created or appended through /narrative/stories ('none': keep "
                               "them in memory only). Default: the per-user data folder.")
    redis: str | None = Field(None, description="Redis URL (redis://host:6379/0) through which server replicas "
                              "share their stories: the story texts live in Redis, --store is not used ('none' "
                              "or unset: no Redis).")
    narrative: NarrativeSettings = Field(default_factory=NarrativeSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    resources: ResourceSettings = Field(default_factory=ResourceSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)
    _overrides: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("parallel", mode="before")
    @classmethod
    def _parallel(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().isdigit():  # "4" from the environment or a flag
            v = int(v)
        if isinstance(v, int) and not 1 <= v <= 64:
            raise ValueError("parallel must be 'auto' or an integer from 1 to 64")
        return v

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v

    @field_validator("store", "redis", mode="before")
    @classmethod
    def _no_store(cls, v: Any) -> Any:
        return None if isinstance(v, str) and v.strip().lower() in ("", "none") else v

    @field_validator("model_paths", mode="before")
    @classmethod
    def _paths(cls, v: Any) -> Any:
        if isinstance(v, str):  # from the environment: "a:b" (";" on Windows)
            return [Path(p).expanduser() for p in v.split(os.pathsep) if p.strip()]
        return [Path(p).expanduser() for p in v] if isinstance(v, (list, tuple)) else v

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().startswith("["):  # JSON list from the environment

            return json.loads(v)
        if isinstance(v, str):  # "a,b" from the environment
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings, env_settings, _TomlSource(settings_cls, init_settings))

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: Any) -> "Settings":
        """Merge explicit ``overrides`` > ``SHIMMY_*`` > TOML file > defaults.

        ``None`` overrides are dropped (an unset CLI flag). Nested values may be
        given flat, e.g. ``narrative_enabled=True``.
        """
        overrides = _nest({k: v for k, v in overrides.items() if v is not None and v != []})
        if config is not None:
            overrides["config"] = Path(config)
        settings = cls(**overrides)
        settings._overrides = overrides
        settings._sources = _origins(cls, overrides)
        return settings

    def reload(self) -> "Settings":
        """Read the environment and the TOML file again, keeping the explicit overrides."""
        return type(self).load(**self._overrides)

    def sources(self) -> dict[str, str]:
        """``{"port": "cli", "narrative.enabled": "env", ...}``: where each value came from."""
        names = _flat_names(type(self))
        return {name: self._sources.get(name, "default") for name in names}

    def table(self) -> list[tuple[str, Any, str]]:
        """``(name, value, source)`` rows, secrets masked."""
        rows = []
        src = self.sources()
        for name in src:
            value: Any = self
            for part in name.split("."):
                value = getattr(value, part)
            if name == "api_keys" and value:
                value = ["***"] * len(value)
            rows.append((name, value, src[name]))
        return rows

    def all_api_keys(self) -> list[str]:
        """Keys from ``api_keys`` plus the non-empty lines of ``api_key_file``."""
        keys = list(self.api_keys)
        if self.api_key_file is not None:
            text = Path(self.api_key_file).expanduser().read_text()
            keys += [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        return keys

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for every engine a server lab loads."""
        kwargs: dict[str, Any] = {}
        if self.n_ctx:
            kwargs["n_ctx"] = self.n_ctx
        cores = usable_cores()
        kwargs["n_threads"] = self.threads or (cores if self.adaptive_threads else max(1, cores // self.slots()))
        if self.kv_unified:  # only when set: the torch engines warn about options they do not know
            kwargs["kv_unified"] = True
        return kwargs

    def slots(self) -> int:
        """Generation slots per model: ``parallel``, or :func:`auto_slots` for this machine."""
        return auto_slots(usable_cores()) if self.parallel == "auto" else int(self.parallel)

    def batch_slots(self) -> int:
        """Sequences of a batched llama.cpp context (``batching``): ``parallel``, or
        :data:`AUTO_BATCH_SLOTS` for 'auto'."""
        return AUTO_BATCH_SLOTS if self.parallel == "auto" else int(self.parallel)

    @property
    def adaptive_threads(self) -> bool:
        """Whether the slots share the cores by need (``parallel`` 'auto' and no fixed
        ``threads``): a request running alone gets every core, N running requests get
        ``cores // N`` each."""
        return self.parallel == "auto" and self.threads is None


AUTO_BATCH_SLOTS = 4
"""Sequences ``--parallel auto`` gives a batched llama.cpp context, whatever the cores:
one context decodes them together, so a sequence costs KV cells, not a core (llama.cpp's
``llama-server`` also starts 4 slots in one context by default)."""


def auto_slots(cores: int) -> int:
    """The number of generation slots ``--parallel auto`` gives a machine with ``cores``.

    One slot per core, at most 4 (llama.cpp's ``llama-server`` also starts 4 slots by
    default). Each slot is a context of its own; with :attr:`Settings.adaptive_threads`
    the slots share the cores by need, so a lone request still runs on every core.

    >>> auto_slots(2), auto_slots(16)
    (2, 4)
    """
    return max(1, min(4, int(cores)))


#: the environment variables of other tools that shimmy-lab follows (read only here)
FOREIGN_ENV = ("HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS", "OMP_NUM_THREADS")

#: the thread-count variables a worker process sets to 1 (:func:`one_compute_thread`)
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def foreign_env(name: str, default: str | None = None) -> str | None:
    """An environment variable of another tool that shimmy-lab follows: where Hugging Face
    and Ollama keep models, the OpenMP thread count a worker process was given.

    The process environment is read only in this module (``SHIMMY_*`` through
    :class:`Settings`, the others here).

    Parameters
    ----------
    name : str
        One of :data:`FOREIGN_ENV`.
    default : str, optional
        Returned when the variable is not set.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`FOREIGN_ENV`.
    """
    if name not in FOREIGN_ENV:
        raise ValueError(f"{name!r} is not an environment variable shimmy-lab follows: {FOREIGN_ENV}")
    return os.environ.get(name, default)


def one_compute_thread() -> None:
    """Set this process's thread-count variables (:data:`THREAD_ENV`) to 1: the set-up of a
    worker process, one per core (as Dask does)."""
    for var in THREAD_ENV:
        os.environ[var] = "1"


def default_store() -> Path:
    """The default story folder of the server: ``stories`` in the per-user data folder
    (``platformdirs.user_data_dir("shimmy-lab")``, e.g. ``~/.local/share/shimmy-lab/stories``)."""
    return Path(platformdirs.user_data_dir("shimmy-lab", appauthor=False)) / "stories"


def config_path(init_kwargs: dict[str, Any] | None = None) -> Path | None:
    """The TOML file to read: explicit ``config`` > ``$SHIMMY_CONFIG`` > ``./shimmy.toml``."""
    explicit = (init_kwargs or {}).get("config")
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("SHIMMY_CONFIG"):
        return Path(os.environ["SHIMMY_CONFIG"]).expanduser()
    local = Path.cwd() / "shimmy.toml"
    return local if local.exists() else None


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by the init kwargs or the environment."""

    def __init__(self, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        init_kwargs = getattr(init_settings, "init_kwargs", {})
        self.path = config_path(init_kwargs)
        self.data = read_toml(self.path) if self.path is not None else {}

    def get_field_value(self, field, field_name):  # pragma: no cover - unused, __call__ is enough
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a settings TOML file (a ``[server]`` table, if present, is flattened in)."""
    if not path.exists():
        if os.environ.get("SHIMMY_CONFIG") == str(path) or path.name != "shimmy.toml":
            raise FileNotFoundError(f"config file not found: {path}")
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    server = data.pop("server", None)
    if isinstance(server, dict):
        data = {**server, **data}
    return {k.replace("-", "_"): v for k, v in data.items()}


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"narrative_enabled": 1}`` -> ``{"narrative": {"enabled": 1}}`` for known sections."""
    out: dict[str, Any] = {}
    sections = {name for name, f in Settings.model_fields.items() if _is_section(f.annotation)}
    for key, value in flat.items():
        head, _, tail = key.partition("_")
        if head in sections and tail and key not in Settings.model_fields:
            out.setdefault(head, {})[tail] = value
        else:
            out[key] = value
    return out


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _flat_names(cls: type[Settings]) -> list[str]:
    names = []
    for name, field in cls.model_fields.items():
        if _is_section(field.annotation):
            names += [f"{name}.{sub}" for sub in field.annotation.model_fields]
        else:
            names.append(name)
    return names


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and not prefix and _is_section(Settings.model_fields.get(key, Field()).annotation):
            out.update(_flatten(value, f"{key}."))
        else:
            out[prefix + key] = value
    return out


def _origins(cls: type[Settings], overrides: dict[str, Any]) -> dict[str, str]:
    """Which layer each value came from (the first layer, by precedence, that sets it)."""
    init = InitSettingsSource(cls, init_kwargs=overrides)
    layers = [("cli", overrides)]
    try:
        layers.append(("env", EnvSettingsSource(cls)()))
    except Exception:  # pragma: no cover - the settings build already raised
        pass
    try:
        toml = _TomlSource(cls, init)
        layers.append((f"toml:{toml.path}" if toml.path else "toml", toml.data))
    except Exception:  # pragma: no cover
        pass
    origins: dict[str, str] = {}
    for label, data in reversed(layers):
        for key in _flatten(data):
            origins[key] = label
    return origins
