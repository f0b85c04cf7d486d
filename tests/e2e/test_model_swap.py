"""Hot swap: the API (gunicorn, 2 workers) serves a newly published model without a restart and
without a single failed request, and every worker converges within seconds."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests

from ingest.settings import Settings, load_settings
from recommender.artifacts import save_model
from recommender.matrix import build_user_items
from recommender.train import train_model
from tests.e2e.test_pipeline import _ready, free_port
from tests.processes import settings_env, streamrec_process, wait_for

ROWS = {f"u{u}": {f"i{(u + n) % 30}": 1.0 for n in range(5)} for u in range(60)}


@pytest.fixture
def settings(isolated: dict[str, object]) -> Settings:
    return load_settings(
        **isolated, api_port=free_port(), api_workers=2, als_factors=8, model_check_seconds=0.5
    )


def publish(settings: Settings) -> str:
    model = train_model(build_user_items(ROWS.items()), settings)
    save_model(model, settings.model_dir, settings.model_keep)
    return model.version


def test_new_model_is_served_without_restart_or_failed_requests(
    settings: Settings, tmp_path: Path
) -> None:
    first = publish(settings)
    base = f"http://127.0.0.1:{settings.api_port}"
    answers: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                response = session.get(f"{base}/v1/items/i1/similar?k=3", timeout=5)
                answers.append((response.status_code, response.json().get("model_version")))

    log = tmp_path / "api.log"
    with streamrec_process(["api"], settings_env(settings), log):
        wait_for(lambda: _ready(base), 60, "the API to be ready", log)
        load = threading.Thread(target=hammer)
        load.start()
        try:
            time.sleep(1.0)
            second = publish(settings)
            published_at = time.monotonic()
            swapped = len(answers)
            wait_for(
                lambda: answers[-40:] and all(v == second for _, v in answers[-40:]) or None,
                15,
                "every worker to serve the new model",
                log,
            )
            converged_s = time.monotonic() - published_at
        finally:
            stop.set()
            load.join(10)

    print(f"{len(answers)} requests, all workers on the new model {converged_s:.2f}s after publish")
    assert {status for status, _ in answers} == {200}
    assert {version for _, version in answers[:swapped]} == {first}
    assert converged_s < 10
