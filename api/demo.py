"""``/demo``: a page to try the recommender in a browser, through the public HTTP API only.

The page is self-contained (no CDN, no build step): this HTML, plus ``static/demo.js`` and
``static/demo.css`` served by the app's static route. Everything is same-origin, so no CORS.
"""

from __future__ import annotations

from flask import Blueprint, Response

# Scripts and styles only from this origin (no inline code), calls only to this origin.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

bp = Blueprint("demo", __name__)


@bp.get("/demo")
def demo() -> Response:
    """Serve the demo page."""
    response = Response(PAGE, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response


# Paths are relative to /demo, so the page also works behind a proxy that adds a prefix.
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>streamrec demo</title>
<link rel="stylesheet" href="static/demo.css">
</head>
<body>
<header>
  <h1>streamrec demo</h1>
  <p>Pick a user (any id) or create a new one, then click items to watch them. Each click is
  posted to <code>POST /v1/events</code>, goes through Kafka and the stream worker into Redis,
  and the lists below follow within moments, without retraining.
  <a href="docs">API reference</a></p>
  <form id="user-form">
    <label>User id <input id="user-id" maxlength="128" placeholder="e.g. 1" autocomplete="off">
    </label>
    <button type="submit">Use this user</button>
    <button type="button" id="new-user">New user</button>
    <label>A click means
      <select id="event-type">
        <option>watch</option><option>like</option><option>view</option>
        <option>share</option><option>skip</option><option>dislike</option>
      </select>
    </label>
  </form>
  <p id="status" role="status" aria-live="polite"></p>
  <p id="model"><span id="model-version"></span>
    <span id="degraded" class="badge warn" hidden>degraded: Redis is unavailable, lists come
    from the model alone</span></p>
</header>
<main>
  <section>
    <h2>Recommended for <span id="current-user">nobody yet</span></h2>
    <p class="note" id="recommendations-note">Pick or create a user.</p>
    <ol id="recommendations" class="items"></ol>
  </section>
  <section>
    <h2>Trending now</h2>
    <p class="note" id="trending-note"></p>
    <ol id="trending" class="items"></ol>
  </section>
  <section>
    <h2>Recently watched</h2>
    <p class="note" id="history-note"></p>
    <ol id="history" class="items"></ol>
  </section>
  <section class="wide">
    <h2>Catalogue</h2>
    <input id="search" type="search" maxlength="100" placeholder="search titles"
      autocomplete="off">
    <p class="note" id="catalogue-note"></p>
    <ul id="catalogue" class="items grid"></ul>
  </section>
</main>
<script src="static/demo.js"></script>
</body>
</html>
"""
