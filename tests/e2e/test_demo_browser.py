"""In a real headless Chromium: the /demo page and the /docs page, as a visitor uses them.

/demo runs against the real pipeline (Kafka, the stream worker, Redis, a trained model, the API
under gunicorn): clicking an item changes the recommendations shown. /docs runs against an
in-process app: it renders every operation and each form gets an answer, without JS errors.

Chromium and chromedriver come from ``scripts/browser.sh ensure`` (Debian's packages). Without
them these tests skip, unless STREAMREC_REQUIRE_BROWSER=1 (``make test`` sets it): then they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from api import create_app
from ingest.publisher import FakeEventPublisher
from ingest.settings import Settings, load_settings
from ingest.sources import generate_events
from ingest.topics import ensure_topics
from recommender.lifecycle import redis_training_lock, retrain_locked
from stream.redis_store import redis_feature_store
from stream.store import InMemoryFeatureStore
from tests.processes import publish_all, settings_env, streamrec_process, wait_for

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROME_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",  # the tests may run as root (containers, CI)
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--window-size=1280,1024",
)
# generate_events: item-N belongs to genre N % 8; the catalogue names the genres.
GENRES = ("Action", "Comedy", "Drama", "Horror", "Musical", "Romance", "Sci-Fi", "Western")
N_ITEMS = 120
CLICKED = "item-13"
WAIT_SECONDS = 15
# A list's rows as the page shows them: [item id, title, detail] per button.
READ_LIST = """return [...document.querySelectorAll(arguments[0] + " button.item")].map(
  (b) => [b.dataset.itemId, b.querySelector(".title").textContent,
          (b.querySelector(".detail") || {}).textContent || ""]);"""
T = TypeVar("T")


def title(item_id: str) -> str:
    number = int(item_id.rsplit("-", 1)[1])
    return f"{GENRES[number % len(GENRES)]} film no. {number}"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """A headless Chromium driven by Selenium, with the chromedriver found on PATH."""
    binary = next((path for path in map(shutil.which, BROWSERS) if path), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        message = "no Chromium and chromedriver on PATH: run `bash scripts/browser.sh ensure`"
        if os.environ.get("STREAMREC_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in CHROME_ARGUMENTS:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager (which may download drivers) never runs.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def script_errors(driver: WebDriver) -> list[dict[str, Any]]:
    """Return (and clear) the page's severe console entries, except HTTP error statuses."""
    entries = driver.get_log("browser")
    return [e for e in entries if e["level"] == "SEVERE" and e["source"] != "network"]


def wait_until(driver: WebDriver, check: Callable[[], T | None], what: str) -> T:
    """Poll ``check`` in the page until it returns something truthy."""
    result = WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.2).until(
        lambda _: check(), f"timed out after {WAIT_SECONDS}s waiting for {what}"
    )
    assert result is not None
    return result


def shown(driver: WebDriver, list_id: str) -> list[list[str]]:
    """Return the rows of one list of the demo page, read in one go (it redraws live)."""
    rows: list[list[str]] = driver.execute_script(READ_LIST, f"#{list_id}")
    return rows


def full(driver: WebDriver) -> list[list[str]] | None:
    """Return the recommendations shown once there are ten, else None."""
    rows = shown(driver, "recommendations")
    return rows if len(rows) == 10 else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def settings(isolated: dict[str, object], tmp_path: Path) -> Settings:
    catalogue = tmp_path / "items.csv"
    rows = [f"item-{n},{title(f'item-{n}')},{GENRES[n % len(GENRES)]}" for n in range(N_ITEMS)]
    catalogue.write_text("item_id,title,categories\n" + "\n".join(rows) + "\n")
    return load_settings(
        **isolated,
        api_port=free_port(),
        api_workers=1,
        als_factors=16,
        als_regularization=0.1,
        catalogue_path=catalogue,
    )


@pytest.fixture
def pipeline(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """Run the worker on generated history, train a model, serve the API; yield its base URL."""
    ensure_topics(settings)
    env = settings_env(settings)
    base = f"http://127.0.0.1:{settings.api_port}"
    worker_log, api_log = tmp_path / "worker.log", tmp_path / "api.log"
    events = list(generate_events(n_users=80, n_items=N_ITEMS, n_events=3000, seed=5))
    with streamrec_process(["stream"], env, worker_log):
        publish_all(settings, events)
        store = redis_feature_store(settings)
        wait_for(lambda: store.stats()["applied"] >= len(events), 60, "the seed", worker_log)
        trained = retrain_locked(settings, store, redis_training_lock(settings))
        assert trained.status == "published"
        with streamrec_process(["api"], env, api_log):
            wait_for(lambda: _ready(base), 60, "the API to be ready", api_log)
            yield base


def test_clicking_an_item_changes_the_recommendations_shown(
    browser: WebDriver, pipeline: str, settings: Settings
) -> None:
    script_errors(browser)
    browser.get(f"{pipeline}/demo")
    browser.find_element(By.ID, "new-user").click()
    user_id = browser.find_element(By.ID, "user-id").get_attribute("value") or ""
    assert user_id.startswith("demo-user-")
    assert browser.find_element(By.ID, "current-user").text == user_id

    before_rows = wait_until(browser, lambda: full(browser), "the first recommendations")
    assert browser.find_element(By.ID, "recommendations").get_attribute("data-source") in {
        "trending",
        "popular",
    }
    assert all(shown_title == title(item_id) for item_id, shown_title, _ in before_rows)
    assert shown(browser, "history") == []

    browsing = wait_until(browser, lambda: shown(browser, "catalogue"), "the catalogue")
    assert [row[0] for row in browsing] == [f"item-{n}" for n in range(24)]  # in file order
    browser.find_element(By.ID, "search").send_keys("FILM NO. 13")

    def searched() -> list[list[str]] | None:
        rows = shown(browser, "catalogue")
        return rows if len(rows) < 24 else None

    found = wait_until(browser, searched, "the catalogue search")
    assert [row[:2] for row in found] == [[CLICKED, title(CLICKED)]]
    browser.find_element(By.CSS_SELECTOR, f'#catalogue button[data-item-id="{CLICKED}"]').click()

    def personalised() -> list[list[str]] | None:
        rows = full(browser)
        source = browser.find_element(By.ID, "recommendations").get_attribute("data-source")
        return rows if source == "model" and rows != before_rows else None

    after = wait_until(browser, personalised, "the recommendations to change after the click")
    assert [row[0] for row in after] != [row[0] for row in before_rows]
    assert CLICKED not in [row[0] for row in after]  # what the user watched is not offered again
    assert any(detail == f"because you watched {title(CLICKED)}" for *_, detail in after), after
    history = wait_until(browser, lambda: shown(browser, "history"), "the history to show it")
    assert history[0][:2] == [CLICKED, title(CLICKED)] and history[0][2].startswith("watch at")
    assert "accepted by Kafka" in browser.find_element(By.ID, "status").text
    assert browser.find_element(By.ID, "degraded").is_displayed() is False

    # The click went through Kafka and the stream worker into Redis.
    stored = redis_feature_store(settings).user_history(user_id, 10)
    assert [(event["item_id"], event["event_type"]) for event in stored] == [(CLICKED, "watch")]
    assert script_errors(browser) == []


@pytest.fixture
def docs_server(tmp_path: Path) -> Iterator[str]:
    """Serve the API in-process on in-memory backends (no model); yield its base URL."""
    settings = Settings(model_dir=tmp_path / "models", access_log=False)
    app = create_app(settings, store=InMemoryFeatureStore(), publisher=FakeEventPublisher())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def test_docs_page_renders_every_operation_and_its_forms_work(
    browser: WebDriver, docs_server: str
) -> None:
    script_errors(browser)
    document = requests.get(f"{docs_server}/openapi.json", timeout=5).json()
    browser.get(f"{docs_server}/docs")
    assert browser.find_element(By.TAG_NAME, "h1").text == document["info"]["title"]
    answers: dict[str, str] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            section = browser.find_element(By.ID, operation["operationId"])
            assert section.find_element(By.TAG_NAME, "h2").text == f"{method.upper()} {path}"
            answers[f"{method.upper()} {path}"] = submit(browser, section)
    assert len(answers) == sum(len(methods) for methods in document["paths"].values())
    assert answers["GET /healthz"].startswith("200 /healthz")
    assert answers["POST /v1/events"].startswith("202 /v1/events")  # the example body is valid
    assert answers["GET /v1/items"].startswith("200 /v1/items?ids=50%2C181&q=star&k=10")
    assert answers["POST /v1/admin/retrain"].startswith("403 ")  # no admin key configured
    assert all("X-Request-ID: " in answer for answer in answers.values())
    assert script_errors(browser) == []


def submit(driver: WebDriver, section: WebElement) -> str:
    """Press Send in one operation's form on /docs; return the answer the page shows."""
    section.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    out = section.find_element(By.CSS_SELECTOR, "pre.out")
    return wait_until(driver, lambda: out.text, f"the answer in {section.get_attribute('id')}")


def _ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/readyz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
