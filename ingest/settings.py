"""The one typed settings object: read from STREAMREC_* environment variables, localhost defaults.

Nothing else in streamrec reads ``os.environ``. Unknown STREAMREC_* variables and invalid values
fail at start-up with a message naming the variable. Where a setting is not given, the variables a
Heroku-style platform sets are used (``ingest.platform_env``: PORT, REDIS_URL, KAFKA_URL, ...).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, FilePath, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ingest.errors import ConfigError
from ingest.platform_env import platform_settings

ENV_PREFIX = "STREAMREC_"

# Variables read by the shell scripts only (ports of the services they provision, state dirs);
# accepted here so that one environment serves both without tripping the unknown-key check.
SCRIPT_ONLY_VARIABLES = frozenset(
    {
        "KAFKA_PORT",
        "KAFKA_CONTROLLER_PORT",
        "KAFKA_SASL_PORT",  # an optional SASL listener of the provisioned broker, and its users
        "KAFKA_SASL_USERS",
        "KAFKA_CLUSTER_PORT",  # first port of scripts/kafka_cluster.sh's three brokers
        "REDIS_PORT",
        "REDIS_CLUSTER_PORT",
        "STATE_DIR",
        "CACHE_DIR",
        "DATA_DIR",
        "REPLAY_LIMIT",
        "REQUIRE_BROWSER",  # set by scripts/test.sh: the browser tests fail instead of skipping
    }
)


class Settings(BaseSettings):
    """Everything a streamrec process can be configured with (env var = STREAMREC_ + name)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:19092"
    events_topic: str = "watch-events"
    dlq_topic: str = "watch-events-dlq"
    topic_partitions: int = Field(default=6, ge=1, le=1000)
    stream_group_id: str = "streamrec-stream"
    stream_engine: Literal["aiokafka", "faust"] = "aiokafka"
    kafka_request_timeout_seconds: float = Field(default=10.0, gt=0)
    # Kafka security, used by every Kafka client (ingest.kafka_security): TLS and/or SASL.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: FilePath | None = None
    kafka_ssl_certfile: FilePath | None = None
    kafka_ssl_keyfile: FilePath | None = None
    # The same as PEM text instead of files (what Heroku's KAFKA_*_CERT variables hold).
    kafka_ssl_ca_pem: str | None = None
    kafka_ssl_cert_pem: str | None = None
    kafka_ssl_key_pem: SecretStr | None = None
    kafka_ssl_check_hostname: bool = True

    # Redis
    redis_url: str = "redis://127.0.0.1:16379/0"
    key_prefix: str = Field(default="sr", pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    history_length: int = Field(default=200, ge=1, le=10_000)
    dedup_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    redis_timeout_seconds: float = Field(default=2.0, gt=0)

    # Stream worker
    trending_half_life_seconds: float = Field(default=86_400.0, gt=0)
    stream_metrics_host: str = "127.0.0.1"
    stream_metrics_port: int = Field(default=9108, ge=0, le=65535)

    # Model. ALS defaults: tuned on a validation split of MovieLens 100K's training part with the
    # worker's event weights (recommender/evaluation/results/report.md).
    model_dir: Path = Path("var/models")
    model_keep: int = Field(default=5, ge=1)
    model_check_seconds: float = Field(default=2.0, ge=0)
    als_factors: int = Field(default=128, ge=1, le=1024)
    als_regularization: float = Field(default=50.0, ge=0)
    als_alpha: float = Field(default=5.0, gt=0)
    als_iterations: int = Field(default=30, ge=1, le=1000)
    random_seed: int = 42
    train_interval_seconds: float = Field(default=0, ge=0)
    # Model lifecycle and serving (recommender/)
    algorithm: Literal["als", "bpr"] = "als"
    bpr_factors: int = Field(default=64, ge=1, le=1024)
    bpr_learning_rate: float = Field(default=0.05, gt=0)
    bpr_regularization: float = Field(default=0.01, ge=0)
    bpr_iterations: int = Field(default=100, ge=1, le=10_000)
    retrain_after_events: int = Field(default=0, ge=0)
    train_lock_ttl_seconds: int = Field(default=900, ge=10)
    holdout_fraction: float = Field(default=0.1, gt=0, lt=0.5)
    holdout_tolerance: float = Field(default=0.0, ge=0, le=1)
    catalogue_path: Path | None = None

    # API
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_workers: int = Field(default=2, ge=1, le=64)
    max_batch_events: int = Field(default=1000, ge=1, le=100_000)
    api_threads: int = Field(default=4, ge=1, le=256)
    api_pin_workers: bool = True  # one CPU per gunicorn worker (api.affinity)
    api_balance_connections: bool = True  # workers take turns accepting (api.balance)
    admin_api_key: SecretStr | None = Field(default=None, min_length=16)
    # Comma-separated origins allowed to call the API from a browser ("*" for any).
    cors_origins: str = Field(default="", pattern=r"^(\*|https?://[^\s,/]+(,https?://[^\s,/]+)*)?$")
    api_redis_timeout_seconds: float = Field(default=0.25, gt=0, le=60)
    api_degraded_seconds: float = Field(default=5.0, ge=0, le=3600)
    rate_limit_per_second: float = Field(default=0.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    admin_attempts_per_minute: int = Field(default=10, ge=1)
    access_log: bool = True
    metrics_dir: Path | None = None

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _topics_differ(self) -> Settings:
        if self.events_topic == self.dlq_topic:
            raise ValueError("events_topic and dlq_topic must differ")
        return self

    @model_validator(mode="after")
    def _kafka_security_consistent(self) -> Settings:
        problem = kafka_security_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read arguments, then STREAMREC_* variables, then the platform's (PORT, REDIS_URL...)."""
        given = init_settings.init_kwargs if isinstance(init_settings, InitSettingsSource) else {}
        platform = PlatformSettingsSource(settings_cls, given)
        return (init_settings, env_settings, platform, dotenv_settings, file_secret_settings)


class PlatformSettingsSource(PydanticBaseSettingsSource):
    """Settings derived from the variables a Heroku-style platform sets (lowest priority)."""

    def __init__(self, settings_cls: type[BaseSettings], given: dict[str, object]) -> None:
        super().__init__(settings_cls)
        self.given = set(given)

    def get_field_value(self, field: object, field_name: str) -> tuple[object, str, bool]:
        """Unused: ``__call__`` maps the platform's variables to settings all at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, object]:
        explicit = self.given | {
            key[len(ENV_PREFIX) :].lower() for key in os.environ if key.startswith(ENV_PREFIX)
        }
        defaults = {name: field.default for name, field in self.settings_cls.model_fields.items()}
        return platform_settings(dict(os.environ), explicit, defaults)


TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_FIELDS = (
    "kafka_ssl_cafile",
    "kafka_ssl_certfile",
    "kafka_ssl_keyfile",
    "kafka_ssl_ca_pem",
    "kafka_ssl_cert_pem",
    "kafka_ssl_key_pem",
)


def variable(name: str) -> str:
    """Return the environment variable of a setting."""
    return ENV_PREFIX + name.upper()


def kafka_security_problem(settings: Settings) -> str | None:
    """Return what is inconsistent in the Kafka security settings, or None."""
    protocol = f"{variable('kafka_security_protocol')} is {settings.kafka_security_protocol}"
    tls = [variable(name) for name in TLS_FIELDS if getattr(settings, name) is not None]
    sasl = [
        variable(n) for n in ("kafka_sasl_username", "kafka_sasl_password") if getattr(settings, n)
    ]
    if settings.kafka_security_protocol in SASL_PROTOCOLS and len(sasl) < 2:
        return f"{protocol}: set {variable('kafka_sasl_username')} and _PASSWORD too"
    if settings.kafka_security_protocol not in SASL_PROTOCOLS and sasl:
        return f"{sasl[0]} is set but {protocol}, not SASL_PLAINTEXT or SASL_SSL"
    if settings.kafka_security_protocol not in TLS_PROTOCOLS and tls:
        return f"{tls[0]} is set but {protocol}, not SSL or SASL_SSL"
    if (settings.kafka_ssl_certfile is None) != (settings.kafka_ssl_keyfile is None):
        return f"{variable('kafka_ssl_certfile')} and _KEYFILE go together"
    if (settings.kafka_ssl_cert_pem is None) != (settings.kafka_ssl_key_pem is None):
        return f"{variable('kafka_ssl_cert_pem')} and _KEY_PEM go together"
    if settings.kafka_ssl_certfile is not None and settings.kafka_ssl_cert_pem is not None:
        return "give the Kafka client certificate as files or as PEM text, not both"
    return None


def unknown_variables(environ: dict[str, str]) -> list[str]:
    """Return STREAMREC_* variables that name no setting (typos caught at start-up)."""
    known = {name.upper() for name in Settings.model_fields} | SCRIPT_ONLY_VARIABLES
    return sorted(
        key for key in environ if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :] not in known
    )


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment plus explicit overrides; raise ConfigError if bad."""
    unknown = unknown_variables(dict(os.environ))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        # A check of several settings together has no location; its message names them.
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            if e["loc"]
            else str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
