"""Settings from a Heroku-style platform's variables, and the Kafka security settings' checks."""

from __future__ import annotations

import os

import pytest

from ingest.errors import ConfigError
from ingest.platform_env import parse_kafka_url
from ingest.settings import ENV_PREFIX, load_settings

HEROKU_KAFKA = {
    "KAFKA_URL": "kafka+ssl://ec2-1.example.com:9096,kafka+ssl://ec2-2.example.com:9096",
    "KAFKA_TRUSTED_CERT": "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
    "KAFKA_CLIENT_CERT": "-----BEGIN CERTIFICATE-----\nME\n-----END CERTIFICATE-----\n",
    "KAFKA_CLIENT_CERT_KEY": "-----BEGIN RSA PRIVATE KEY-----\nK\n-----END RSA PRIVATE KEY-----\n",
}
PLATFORM_VARIABLES = ["PORT", "REDIS_URL", "KAFKA_PREFIX", *HEROKU_KAFKA]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test from an environment with no streamrec or platform variables."""
    for name in [key for key in os.environ if key.startswith(ENV_PREFIX)] + PLATFORM_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_without_platform_variables_the_defaults_hold() -> None:
    settings = load_settings()
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8000)
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.kafka_security_protocol == "PLAINTEXT"


def test_port_sets_the_api_port_but_not_the_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "5123")
    settings = load_settings()
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 5123)


def test_streamrec_variables_win_over_the_platform_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "5123")
    monkeypatch.setenv("REDIS_URL", "redis://platform:6379/0")
    monkeypatch.setenv("STREAMREC_API_PORT", "9000")
    monkeypatch.setenv("STREAMREC_REDIS_URL", "redis://mine:6379/1")
    settings = load_settings()
    assert (settings.api_port, settings.redis_url) == (9000, "redis://mine:6379/1")


def test_redis_url_is_used_when_no_streamrec_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "rediss://:secret@platform.example.com:6380")
    assert load_settings().redis_url == "rediss://:secret@platform.example.com:6380"


def test_heroku_kafka_gives_brokers_tls_and_the_certificates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in HEROKU_KAFKA.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.kafka_bootstrap == "ec2-1.example.com:9096,ec2-2.example.com:9096"
    assert settings.kafka_security_protocol == "SSL"
    assert settings.kafka_ssl_ca_pem == HEROKU_KAFKA["KAFKA_TRUSTED_CERT"]
    assert settings.kafka_ssl_cert_pem == HEROKU_KAFKA["KAFKA_CLIENT_CERT"]
    key = settings.kafka_ssl_key_pem
    assert key is not None and key.get_secret_value() == HEROKU_KAFKA["KAFKA_CLIENT_CERT_KEY"]
    assert "PRIVATE KEY" not in repr(settings)


def test_kafka_prefix_names_topics_and_group_on_multi_tenant_kafka(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_URL", HEROKU_KAFKA["KAFKA_URL"])
    monkeypatch.setenv("KAFKA_PREFIX", "gentle-42.")
    monkeypatch.setenv("STREAMREC_DLQ_TOPIC", "my-dlq")
    settings = load_settings()
    assert settings.events_topic == "gentle-42.watch-events"
    assert settings.stream_group_id == "gentle-42.streamrec-stream"
    assert settings.dlq_topic == "my-dlq"


@pytest.mark.parametrize("how", ["environment", "argument"])
def test_a_given_bootstrap_ignores_every_platform_kafka_variable(
    monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    for name, value in HEROKU_KAFKA.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAFKA_PREFIX", "gentle-42.")
    if how == "environment":
        monkeypatch.setenv("STREAMREC_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
        settings = load_settings()
    else:
        settings = load_settings(kafka_bootstrap="127.0.0.1:19092")
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert settings.kafka_ssl_ca_pem is None
    assert settings.events_topic == "watch-events"


def test_a_plaintext_kafka_url_takes_no_certificates(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in HEROKU_KAFKA.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAFKA_URL", "kafka://10.0.0.5:9092")
    settings = load_settings()
    assert (settings.kafka_bootstrap, settings.kafka_security_protocol) == (
        "10.0.0.5:9092",
        "PLAINTEXT",
    )
    assert settings.kafka_ssl_ca_pem is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("kafka+ssl://a:9096", ("a:9096", "SSL")),
        ("kafka://a:9092, kafka://b:9092/", ("a:9092,b:9092", "PLAINTEXT")),
        ("KAFKA+SSL://a:9096", ("a:9096", "SSL")),
    ],
)
def test_parse_kafka_url(url: str, expected: tuple[str, str]) -> None:
    assert parse_kafka_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("a:9092", "expected kafka://"),
        ("http://a:9092", "expected kafka://"),
        ("kafka+ssl://a", "expected kafka://"),
        ("kafka://a:9092,kafka+ssl://b:9096", "mixes"),
    ],
)
def test_a_bad_kafka_url_stops_start_up_with_a_message(
    monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("KAFKA_URL", url)
    with pytest.raises(ConfigError, match=message):
        load_settings()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
            "^invalid settings: STREAMREC_KAFKA_SECURITY_PROTOCOL is SASL_SSL: "
            "set STREAMREC_KAFKA_SASL_USERNAME and _PASSWORD too$",
        ),
        (
            {"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
            "STREAMREC_KAFKA_SASL_USERNAME is set but STREAMREC_KAFKA_SECURITY_PROTOCOL is "
            "PLAINTEXT, not SASL_PLAINTEXT or SASL_SSL",
        ),
        ({"KAFKA_SSL_CA_PEM": "x"}, "STREAMREC_KAFKA_SSL_CA_PEM is set but .* not SSL or SASL_SSL"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_PEM": "x"},
            "STREAMREC_KAFKA_SSL_CERT_PEM and _KEY_PEM go together",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "/nonexistent"}, "CAFILE"),
        ({"KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM"),
    ],
)
def test_inconsistent_kafka_security_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(ENV_PREFIX + name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_the_sasl_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMREC_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("STREAMREC_KAFKA_SASL_USERNAME", "app")
    monkeypatch.setenv("STREAMREC_KAFKA_SASL_PASSWORD", "hunter2-hunter2")
    settings = load_settings()
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
