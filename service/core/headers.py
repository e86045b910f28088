"""Security headers: `nosniff` and no referrer on every response; a CSP for the /docs page.

The map page (`/`) sets its own CSP (service/web/routes.py). Swagger UI's page, rendered
by flask-smorest, loads its script and style from /static/swagger-ui/ and starts with one
inline script; the CSP allows exactly that script by its SHA-256, computed from the page
itself so a change of configuration cannot silently break it.
"""

import base64
import hashlib
import re

from flask import Flask, Response, request

SWAGGER_UI_ENDPOINT = "api-docs.openapi_swagger_ui"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def page_csp(form_action: str = "'none'") -> str:
    """The CSP of the app's own pages (the map, the console): only this origin, for scripts,
    styles, tiles and MapLibre's module workers (its CSS draws icons as data: SVGs); nothing
    inline, no eval, no framing; forms post to `form_action`."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action {form_action}",
            "frame-ancestors 'none'",
        ]
    )


def page_headers(response, csp: str, referrer: str, cache: str):
    """The headers of the app's own pages: no sniffing, `referrer`, and for HTML the CSP,
    no framing and `cache`."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = referrer
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = csp
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = cache
    return response


def docs_csp(page: bytes) -> str:
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(page)
    ]
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *hashes]),
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",  # the OpenAPI document and "Try it out" requests
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(response: Response) -> Response:
    # JSON, tiles and problem documents must never be sniffed into HTML or script.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.status_code == 204:  # no body, so no type (Werkzeug adds text/html)
        response.headers.pop("Content-Type", None)
    if request.endpoint == SWAGGER_UI_ENDPOINT and response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = docs_csp(response.get_data())
        response.headers["X-Frame-Options"] = "DENY"
    return response


def init_app(app: Flask) -> None:
    app.after_request(security_headers)
