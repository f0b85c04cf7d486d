"""TLS/SASL options: built once from Settings, handed to every Kafka client streamrec creates."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from api.probes import KafkaProbe
from ingest import publisher as publisher_module
from ingest import topics as topics_module
from ingest.kafka_security import client_security, ssl_context
from ingest.publisher import kafka_publisher
from ingest.settings import Settings
from ingest.topics import ensure_topics
from stream import consumer as consumer_module
from stream.consumer import StreamWorker
from stream.faust_app import create_stream_app, faust_credentials
from stream.metrics import WorkerMetrics
from stream.store import InMemoryFeatureStore

SASL = {
    "kafka_security_protocol": "SASL_PLAINTEXT",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "app",
    "kafka_sasl_password": "s3cret-s3cret",
}


class Refused(Exception):
    """Raised by a recording client instead of connecting."""


def recorder(calls: list[dict[str, Any]]) -> Any:
    """Return a client class that records its keyword arguments and connects to nothing."""

    class Recording:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            calls.append(kwargs)

        def __getattr__(self, name: str) -> Any:
            raise Refused(name)

    return Recording


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a client certificate signed by it (openssl CLI), as PEM files."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    out = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=out, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=ca",
            "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=client",
            "-keyout", "client.key", "-out", "client.csr")  # fmt: skip
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-out", "client.crt")  # fmt: skip
    return {name: out / name for name in ("ca.crt", "client.crt", "client.key")}


def test_plaintext_is_the_default_and_adds_nothing_else() -> None:
    assert client_security(Settings()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_plaintext_gives_mechanism_and_credentials_without_tls() -> None:
    assert client_security(Settings(**SASL)) == {  # type: ignore[arg-type]
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "app",
        "sasl_plain_password": "s3cret-s3cret",
    }


def test_sasl_ssl_verifies_with_the_system_cas_by_default() -> None:
    settings = Settings(**{**SASL, "kafka_security_protocol": "SASL_SSL"})  # type: ignore[arg-type]
    options = client_security(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_plain_password"] == "s3cret-s3cret"
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == len(ssl.create_default_context().get_ca_certs())


def test_ssl_from_files_trusts_only_the_given_ca(pki: dict[str, Path]) -> None:
    settings = Settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pki["ca.crt"],
        kafka_ssl_certfile=pki["client.crt"],
        kafka_ssl_keyfile=pki["client.key"],
        kafka_ssl_check_hostname=False,
    )
    context = ssl_context(settings)
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    assert not context.check_hostname
    assert [cert["subject"] for cert in context.get_ca_certs()] == [((("commonName", "ca"),),)]


def test_ssl_from_pem_text_loads_the_client_certificate(pki: dict[str, Path]) -> None:
    text = {name: path.read_text(encoding="ascii") for name, path in pki.items()}
    settings = Settings(
        kafka_security_protocol="SSL",
        kafka_ssl_ca_pem=text["ca.crt"],
        kafka_ssl_cert_pem=text["client.crt"],
        kafka_ssl_key_pem=text["client.key"],  # type: ignore[arg-type]
    )
    context = ssl_context(settings)
    assert context is not None
    assert [cert["subject"] for cert in context.get_ca_certs()] == [((("commonName", "ca"),),)]
    mismatched = settings.model_copy(update={"kafka_ssl_cert_pem": text["ca.crt"]})
    with pytest.raises(ssl.SSLError):  # proves the key was really loaded and checked
        ssl_context(mismatched)


def test_faust_gets_the_same_options_as_the_other_clients() -> None:
    sasl = Settings(**SASL)  # type: ignore[arg-type]
    tls = Settings(kafka_security_protocol="SSL")
    faust_sasl = credentials_to_aiokafka_auth(faust_credentials(sasl))
    assert {key: value for key, value in faust_sasl.items() if value is not None} == (
        client_security(sasl)
    )
    tls_auth = credentials_to_aiokafka_auth(faust_credentials(tls))
    assert tls_auth["security_protocol"] == "SSL"
    assert isinstance(tls_auth["ssl_context"], ssl.SSLContext)
    assert faust_credentials(Settings()) is None


def test_the_faust_app_is_built_with_the_credentials() -> None:
    app = create_stream_app(Settings(**SASL), InMemoryFeatureStore())  # type: ignore[arg-type]
    credentials = app.conf.broker_credentials
    assert credentials_to_aiokafka_auth(credentials)["sasl_plain_username"] == "app"


def test_publisher_topics_and_probe_pass_the_options_to_kafka_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(publisher_module, "KafkaProducer", recorder(calls))
    monkeypatch.setattr(topics_module, "KafkaAdminClient", recorder(calls))
    monkeypatch.setattr("api.probes.KafkaAdminClient", recorder(calls))
    settings = Settings(**SASL)  # type: ignore[arg-type]
    kafka_publisher(settings)._connected_producer()
    with pytest.raises(Refused):
        ensure_topics(settings)
    with pytest.raises(Refused):
        KafkaProbe(settings.kafka_bootstrap, 1.0, security=client_security(settings)).check()
    assert len(calls) == 3
    for kwargs in calls:
        assert client_security(settings).items() <= kwargs.items()


def test_stream_worker_passes_the_options_to_consumer_and_dead_letter_producer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(consumer_module, "AIOKafkaConsumer", recorder(calls))
    monkeypatch.setattr(consumer_module, "AIOKafkaProducer", recorder(calls))
    settings = Settings(**SASL)  # type: ignore[arg-type]
    worker = StreamWorker(settings, InMemoryFeatureStore(), WorkerMetrics())
    with pytest.raises(Refused):
        asyncio.run(worker.run())
    assert len(calls) == 2
    for kwargs in calls:
        assert client_security(settings).items() <= kwargs.items()
