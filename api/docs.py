"""``/openapi.json`` and ``/docs``: the document, and a self-contained page rendered from it.

The page needs nothing from outside (no CDN): plain HTML listing every operation, its
parameters, bodies, answers and examples, with a small form per operation to try it.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from api.backends import get_settings
from api.openapi import build_document
from api.spec import OPERATIONS

DOCUMENT_KEY = "streamrec.openapi"
API_VERSION = "1"
PAGE_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'"
)

bp = Blueprint("docs", __name__)


def openapi_document(app: Flask) -> dict[str, Any]:
    """Return the app's OpenAPI document (built once per app)."""
    document = app.extensions.get(DOCUMENT_KEY)
    if document is None:
        document = build_document(OPERATIONS, get_settings().max_batch_events, API_VERSION)
        app.extensions[DOCUMENT_KEY] = document
    return document


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI 3.1 document."""
    return jsonify(openapi_document(current_app._get_current_object()))  # type: ignore[attr-defined]


@bp.get("/docs")
def docs() -> Response:
    """Serve the API reference page, rendered from the OpenAPI document."""
    page = render_page(openapi_document(current_app._get_current_object()))  # type: ignore[attr-defined]
    response = Response(page, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response


def render_page(document: dict[str, Any]) -> str:
    """Render the whole reference page."""
    sections = [
        _operation(method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    info = document["info"]
    return PAGE.format(
        title=escape(info["title"]),
        description=escape(info["description"]),
        toc="".join(
            f'<li><a href="#{escape(op["operationId"])}"><code>{escape(m.upper())} '
            f"{escape(p)}</code></a> {escape(op['summary'])}</li>"
            for p, methods in document["paths"].items()
            for m, op in methods.items()
        ),
        sections="".join(sections),
    )


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    rows = "".join(_parameter(parameter) for parameter in operation["parameters"])
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    examples = [example["value"] for example in (body or {}).get("examples", {}).values()]
    answers = "".join(
        f"<li><b>{escape(status)}</b> {escape(answer['description'])}{_example(answer)}</li>"
        for status, answer in operation["responses"].items()
    )
    key = '<label>X-API-Key <input name="X-API-Key" type="password"></label>'
    return OPERATION.format(
        id=escape(operation["operationId"]),
        method=escape(method.upper()),
        path=escape(path),
        summary=escape(operation["summary"]),
        parameters=f"<table>{PARAMETER_HEAD}{rows}</table>" if rows else "",
        body=_body(examples),
        key=key if "security" in operation else "",
        answers=answers,
    )


def _parameter(parameter: dict[str, Any]) -> str:
    example = parameter.get("example")
    value = ",".join(example) if isinstance(example, list) else example
    value = "" if value is None else str(value).lower() if isinstance(value, bool) else value
    return (
        f"<tr><td><code>{escape(parameter['name'])}</code></td><td>{escape(parameter['in'])}</td>"
        f"<td><code>{escape(json.dumps(parameter['schema']))}</code></td>"
        f"<td>{escape(parameter.get('description', ''))}</td>"
        f'<td><input data-in="{escape(parameter["in"])}" name="{escape(parameter["name"])}" '
        f'value="{escape(str(value))}"></td></tr>'
    )


def _body(examples: list[Any]) -> str:
    if not examples:
        return ""
    text = json.dumps(examples[0], indent=2)
    return f'<p>Body (JSON):</p><textarea name="body" rows="10">{escape(text)}</textarea>'


def _example(answer: dict[str, Any]) -> str:
    media: dict[str, Any] = next(iter(answer.get("content", {}).values()), {})
    example = media.get("example")
    if example is None:
        return ""
    return f"<pre>{escape(json.dumps(example, indent=2))}</pre>"


PARAMETER_HEAD = "<tr><th>name</th><th>in</th><th>schema</th><th>meaning</th><th>try</th></tr>"
OPERATION = """<section id="{id}"><h2><span class="m">{method}</span> <code>{path}</code></h2>
<p>{summary}</p><form data-method="{method}" data-path="{path}">{parameters}{body}{key}
<button type="submit">Send</button><pre class="out"></pre></form>
<h3>Answers</h3><ul>{answers}</ul></section>"""
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:15px/1.45 system-ui,sans-serif;max-width:70em;margin:auto;padding:1em}}
section{{border-top:1px solid #ccc;margin-top:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}}
pre{{background:#f6f6f6;padding:.5em;overflow:auto}}textarea{{width:100%;font:13px monospace}}
.m{{background:#246;color:#fff;padding:0 .4em;border-radius:3px}}</style></head><body>
<h1>{title}</h1><p>{description}</p><p>The machine-readable document is
<a href="/openapi.json">/openapi.json</a>.</p><ul>{toc}</ul>{sections}
<script>
for (const form of document.querySelectorAll("form")) {{
  form.addEventListener("submit", async (event) => {{
    event.preventDefault();
    let path = form.dataset.path; const query = new URLSearchParams(); const headers = {{}};
    for (const input of form.querySelectorAll("input[data-in]")) {{
      if (input.dataset.in === "path") path = path.replace("{{" + input.name + "}}",
        encodeURIComponent(input.value));
      else if (input.value !== "") query.append(input.name, input.value);
    }}
    const key = form.querySelector("input[name='X-API-Key']");
    if (key && key.value) headers["X-API-Key"] = key.value;
    const body = form.querySelector("textarea");
    if (body) headers["Content-Type"] = "application/json";
    const url = path + (query.toString() ? "?" + query : "");
    const out = form.querySelector(".out");
    try {{
      const response = await fetch(url, {{method: form.dataset.method, headers,
        body: body ? body.value : undefined}});
      const text = await response.text();
      out.textContent = response.status + " " + url + "\\nX-Request-ID: " +
        response.headers.get("X-Request-ID") + "\\n\\n" + text;
    }} catch (error) {{ out.textContent = String(error); }}
  }});
}}
</script></body></html>"""
