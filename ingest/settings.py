"""The one typed settings object: read from STREAMREC_* environment variables, localhost defaults.

Nothing else in streamrec reads ``os.environ``. Unknown STREAMREC_* variables and invalid values
fail at start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.errors import ConfigError

ENV_PREFIX = "STREAMREC_"

# Variables read by the shell scripts only (ports of the services they provision, state dirs);
# accepted here so that one environment serves both without tripping the unknown-key check.
SCRIPT_ONLY_VARIABLES = frozenset(
    {
        "KAFKA_PORT",
        "KAFKA_CONTROLLER_PORT",
        "REDIS_PORT",
        "REDIS_CLUSTER_PORT",
        "STATE_DIR",
        "CACHE_DIR",
        "DATA_DIR",
        "REPLAY_LIMIT",
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
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
