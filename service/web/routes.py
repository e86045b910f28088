"""The built-in map page: `/`, its own script and style, and MapLibre GL JS's files.

MapLibre GL JS comes from the npm package pinned in web/package-lock.json (`npm ci --prefix
web`, which `make install` runs): the machines are offline, so no CDN, and a pinned package
keeps ~1.6 MB of minified third-party code out of the repository. Only the few files the
page needs are served, from web/node_modules/maplibre-gl/dist (MAPLIBRE_DIST overrides it).

The page is not part of the API: this blueprint keeps itself out of the OpenAPI document.
"""

import os
from pathlib import Path

from flask import abort, render_template, send_from_directory

from service.core.api import PageBlueprint
from service.core.headers import page_csp, page_headers

REPO = Path(__file__).resolve().parents[2]
MAPLIBRE_DIST = Path(
    os.environ.get("MAPLIBRE_DIST") or REPO / "web" / "node_modules" / "maplibre-gl" / "dist"
)
# The ES module build: the page imports maplibre-gl.mjs, which starts its workers from
# maplibre-gl-worker.mjs beside it (same origin: no blob: workers needed).
MAPLIBRE_FILES = {
    "maplibre-gl.mjs": "text/javascript",
    "maplibre-gl-worker.mjs": "text/javascript",
    "maplibre-gl.css": "text/css",
}

# The page has no form: form-action 'none'.
CSP = page_csp()


blp = PageBlueprint(
    "web",
    __name__,
    description="The built-in map page (HTML, not part of the API).",
    static_folder="static",
    static_url_path="/static/web",
    template_folder="templates",
)


@blp.after_request
def security_headers(response):
    return page_headers(response, CSP, referrer="no-referrer", cache="no-cache")


@blp.get("/")
def map_page():
    """The map; `?lat=&lon=&z=` opens it elsewhere than Zhejiang (read by map.js)."""
    installed = all((MAPLIBRE_DIST / name).is_file() for name in MAPLIBRE_FILES)
    return render_template("map.html", maplibre_installed=installed)


@blp.get("/static/maplibre/<name>")
def maplibre_asset(name: str):
    if name not in MAPLIBRE_FILES:
        abort(404)
    if not (MAPLIBRE_DIST / name).is_file():
        abort(404, "MapLibre GL JS is not installed: run `npm ci --prefix web` (make install).")
    return send_from_directory(MAPLIBRE_DIST, name, mimetype=MAPLIBRE_FILES[name])
