"""TLS and SASL options of every Kafka client, built once from Settings.

kafka-python (publisher, admin, readiness probe) and aiokafka (the stream worker) take the same
keyword names (``security_protocol``, ``ssl_context``, ``sasl_*``), so ``client_security`` serves
both; the faust app gets the same from ``stream.faust_app.faust_credentials``.
"""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path
from typing import Any

from ingest.settings import SASL_PROTOCOLS, TLS_PROTOCOLS, Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """Return the TLS context for SSL and SASL_SSL (None for the plaintext protocols)."""
    if settings.kafka_security_protocol not in TLS_PROTOCOLS:
        return None
    # No CA given: the system's trusted CAs (hosted Kafka with a public certificate).
    context = ssl.create_default_context(
        cafile=settings.kafka_ssl_cafile, cadata=settings.kafka_ssl_ca_pem
    )
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_certfile is not None and settings.kafka_ssl_keyfile is not None:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    elif settings.kafka_ssl_cert_pem is not None and settings.kafka_ssl_key_pem is not None:
        load_cert_chain_pem(
            context, settings.kafka_ssl_cert_pem, settings.kafka_ssl_key_pem.get_secret_value()
        )
    return context


def load_cert_chain_pem(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    """Load a client certificate and key given as PEM text (ssl reads them only from files)."""
    # A private directory (mode 0700) that exists only while the files are read.
    with tempfile.TemporaryDirectory(prefix="streamrec-kafka-tls-") as private:
        cert, key = Path(private, "client.crt"), Path(private, "client.key")
        cert.write_text(cert_pem, encoding="ascii")
        key.touch(mode=0o600)
        key.write_text(key_pem, encoding="ascii")
        context.load_cert_chain(cert, key)


def sasl_options(settings: Settings) -> dict[str, Any]:
    """Return the SASL mechanism and credentials for the SASL protocols (else nothing)."""
    if settings.kafka_security_protocol not in SASL_PROTOCOLS:
        return {}
    password = settings.kafka_sasl_password
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": password.get_secret_value() if password else None,
    }


def client_security(settings: Settings) -> dict[str, Any]:
    """Return the security keyword arguments of a kafka-python or aiokafka client."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    return options | sasl_options(settings)
