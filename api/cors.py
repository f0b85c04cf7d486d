"""CORS for browser front-ends: the origins named in settings may call the API, no others.

Hand-rolled (a few headers) so that exactly these rules apply: simple GET/POST and preflights
from allowed origins, no credentials, and ``X-API-Key`` is never allowed cross-origin (admin
calls do not come from browsers).
"""

from __future__ import annotations

from flask import Flask, Response, request

ALLOWED_METHODS = "GET, POST"
ALLOWED_HEADERS = "Content-Type, X-Request-ID"
EXPOSED_HEADERS = "X-Request-ID, Retry-After"
PREFLIGHT_MAX_AGE_SECONDS = 600


def parse_origins(setting: str) -> frozenset[str]:
    """Return the allowed origins from the comma-separated setting ("*" allows any)."""
    return frozenset(origin.strip().rstrip("/") for origin in setting.split(",") if origin.strip())


def install_cors(app: Flask, setting: str) -> None:
    """Answer preflights and add CORS headers for the allowed origins (nothing if none)."""
    origins = parse_origins(setting)
    if not origins:
        return

    def allowed(origin: str | None) -> bool:
        return origin is not None and ("*" in origins or origin in origins)

    @app.before_request
    def answer_preflight() -> Response | None:
        origin = request.headers.get("Origin")
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        response = Response(status=204)
        if allowed(origin):
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
        return response

    @app.after_request
    def add_cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        response.vary.add("Origin")
        if allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response
