"""Checks every /v1 request passes first: a UTF-8 URL, the client's rate limit, the admin key."""

from __future__ import annotations

import hmac
from urllib.parse import unquote_to_bytes

from flask import Flask, request
from werkzeug.exceptions import Forbidden, TooManyRequests, Unauthorized

from api.ratelimit import RateLimiter
from ingest.errors import InvalidRequest
from ingest.settings import Settings

API_PREFIX = "/v1/"
ADMIN_PREFIX = "/v1/admin/"
API_KEY_HEADER = "X-API-Key"


def check_utf8_url(environ: dict[str, object]) -> None:
    """Raise InvalidRequest if the path or query string is not valid UTF-8 once decoded.

    Flask would quietly turn bad bytes into U+FFFD, which could then name another user's or
    item's data; the raw request target (``RAW_URI``, set by gunicorn and werkzeug) tells.
    """
    target = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if "%" not in target and target.isascii():
        return  # nothing encoded: ASCII is UTF-8 (the common case, without decoding anything)
    path, _, query = target.partition("?")
    for field, raw in (("path", path), ("query", query)):
        try:
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            message = "is not valid UTF-8 once percent-decoded"
            details = [{"field": field, "message": message}]
            raise InvalidRequest(f"{field} {message}", details) from None


def check_admin_key(settings: Settings, given: str | None) -> None:
    """Raise 403 if admin is disabled, 401 unless ``given`` is the key (constant-time compare)."""
    if settings.admin_api_key is None:
        raise Forbidden("admin endpoints are disabled: set STREAMREC_ADMIN_API_KEY to enable them")
    expected = settings.admin_api_key.get_secret_value().encode("utf-8")
    offered = (given or "").encode("utf-8")
    # compare_digest takes as long for any wrong key of a given length; the key is never logged.
    if not hmac.compare_digest(offered, expected):
        raise Unauthorized(f"a valid {API_KEY_HEADER} header is required")


def install_guards(app: Flask, settings: Settings) -> None:
    """Check the URL encoding, the rate limits and the admin key before every /v1 view."""
    public = (
        RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        if settings.rate_limit_per_second > 0
        else None
    )
    per_minute = settings.admin_attempts_per_minute
    admin = RateLimiter(per_minute / 60.0, per_minute)

    @app.before_request
    def guard() -> None:
        if not request.path.startswith(API_PREFIX):
            return
        check_utf8_url(request.environ)
        client = request.remote_addr or "unknown"
        is_admin = request.path.startswith(ADMIN_PREFIX)
        limiter = admin if is_admin else public
        wait = limiter.wait_seconds(client) if limiter is not None else 0
        if wait:
            raise TooManyRequests(f"too many requests; retry after {wait} s", retry_after=wait)
        if is_admin:
            check_admin_key(settings, request.headers.get(API_KEY_HEADER))
