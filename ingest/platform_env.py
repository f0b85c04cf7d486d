"""What a Heroku-style platform puts in the environment, as streamrec settings (pure, no I/O).

Each applies only where the matching STREAMREC_* setting (or an explicit argument) is not given:

- ``PORT`` -> ``api_port`` (the Procfile sets ``STREAMREC_API_HOST=0.0.0.0`` itself: a PORT left
  in a laptop's environment must not open the API to the network);
- ``REDIS_URL`` -> ``redis_url``;
- ``KAFKA_URL`` (``kafka+ssl://h1:9096,kafka+ssl://h2:9096``) -> ``kafka_bootstrap`` and
  ``kafka_security_protocol``; with it, Heroku's ``KAFKA_TRUSTED_CERT``, ``KAFKA_CLIENT_CERT`` and
  ``KAFKA_CLIENT_CERT_KEY`` (PEM text) -> ``kafka_ssl_ca_pem`` / ``_cert_pem`` / ``_key_pem``, and
  ``KAFKA_PREFIX`` (multi-tenant plans) in front of both topic names and the consumer group.

None of it applies when ``kafka_bootstrap`` is given: the Kafka variables describe one cluster
together, and a bootstrap from elsewhere must not be mixed with the platform's certificates.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from ingest.errors import ConfigError

KAFKA_URL_SCHEMES = {"kafka": "PLAINTEXT", "kafka+ssl": "SSL"}
KAFKA_CERTIFICATES = {
    "KAFKA_TRUSTED_CERT": "kafka_ssl_ca_pem",
    "KAFKA_CLIENT_CERT": "kafka_ssl_cert_pem",
    "KAFKA_CLIENT_CERT_KEY": "kafka_ssl_key_pem",
}
PREFIXED_SETTINGS = ("events_topic", "dlq_topic", "stream_group_id")
# Every variable read here (documented in README.md "Configuration").
PLATFORM_VARIABLES = ("PORT", "REDIS_URL", "KAFKA_URL", *KAFKA_CERTIFICATES, "KAFKA_PREFIX")


def parse_kafka_url(url: str) -> tuple[str, str]:
    """Return (bootstrap servers, security protocol) of a ``kafka[+ssl]://host:port,...`` list."""
    servers: list[str] = []
    protocols: set[str] = set()
    for part in url.split(","):
        scheme, separator, address = part.strip().partition("://")
        address = address.rstrip("/")
        if not separator or scheme.lower() not in KAFKA_URL_SCHEMES or ":" not in address:
            raise ConfigError(
                f"KAFKA_URL: expected kafka://host:port or kafka+ssl://host:port, got {part!r}"
            )
        servers.append(address)
        protocols.add(KAFKA_URL_SCHEMES[scheme.lower()])
    if len(protocols) > 1:
        raise ConfigError("KAFKA_URL mixes kafka:// and kafka+ssl:// brokers")
    return ",".join(servers), protocols.pop()


def platform_settings(
    environ: Mapping[str, str], explicit: Set[str], defaults: Mapping[str, object]
) -> dict[str, object]:
    """Return the settings the platform's variables give, leaving out the ``explicit`` ones."""
    found: dict[str, object] = {}
    if environ.get("PORT"):
        found["api_port"] = environ["PORT"]
    if environ.get("REDIS_URL"):
        found["redis_url"] = environ["REDIS_URL"]
    if environ.get("KAFKA_URL") and "kafka_bootstrap" not in explicit:
        found.update(kafka_settings(environ, defaults))
    return {name: value for name, value in found.items() if name not in explicit}


def kafka_settings(environ: Mapping[str, str], defaults: Mapping[str, object]) -> dict[str, object]:
    """Return the Kafka settings of KAFKA_URL and the variables that come with it."""
    bootstrap, protocol = parse_kafka_url(environ["KAFKA_URL"])
    found: dict[str, object] = {"kafka_bootstrap": bootstrap, "kafka_security_protocol": protocol}
    if protocol == "SSL":
        found.update(
            {name: environ[var] for var, name in KAFKA_CERTIFICATES.items() if environ.get(var)}
        )
    prefix = environ.get("KAFKA_PREFIX", "")
    if prefix:
        found.update({name: f"{prefix}{defaults[name]}" for name in PREFIXED_SETTINGS})
    return found
