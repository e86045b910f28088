"""The OpenAPI 3 document at /openapi.json and the offline Swagger UI at /docs."""

import re
from urllib.parse import urlsplit

import pytest

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

FILTERS = {"kind", "amenities", "any_amenities", "open_now", "open_at", "q", "org", "crs"}
# Every public path and the query parameters it must document.
PUBLIC_PATHS = {
    "/v1/sites/nearby": FILTERS | {"lat", "lon", "radius", "limit", "cursor"},
    "/v1/sites": FILTERS | {"bbox", "limit", "cursor", "updated_since", "f"},
    "/v1/sites/{site_id}": {"crs"},
    "/v1/sites/{site_id}/hours": {"from", "days"},
    "/v1/amenities": set(),
    "/healthz": set(),
    "/readyz": set(),
}


@pytest.fixture()
def spec(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def _parameters(spec: dict, path: str, method: str) -> list[dict]:
    """Path-level and operation-level parameters, with $refs resolved."""
    item = spec["paths"][path]
    params = [*item.get("parameters", []), *item[method].get("parameters", [])]
    return [_resolve(spec, p) for p in params]


def _resolve(spec: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        node = _lookup(spec, node["$ref"])
    return node


def _lookup(spec: dict, ref: str):
    assert ref.startswith("#/"), f"external $ref {ref!r}"
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref!r}"
        node = node[part]
    return node


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_document_is_openapi_3(spec):
    """The document declares OpenAPI 3.x, has info, paths and well-formed operations."""
    assert re.fullmatch(r"3\.\d+\.\d+", spec["openapi"])
    assert spec["info"]["title"] and spec["info"]["version"]
    assert isinstance(spec["paths"], dict) and spec["paths"]
    operation_ids = []
    for path, method, op in _operations(spec):
        assert path.startswith("/")
        assert op["responses"], f"{method} {path} documents no response"
        assert any(code.startswith("2") for code in op["responses"]), f"{method} {path}"
        for param in _parameters(spec, path, method):
            assert {"name", "in"} <= set(param), param
            assert param["in"] in {"query", "path", "header", "cookie"}
            assert "schema" in param or "content" in param, param
        templated = set(re.findall(r"{(\w+)}", path))
        in_path = {p["name"] for p in _parameters(spec, path, method) if p["in"] == "path"}
        assert templated == in_path, f"{method} {path}: path parameters {in_path}"
        if "operationId" in op:
            operation_ids.append(op["operationId"])
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


def test_every_ref_resolves(spec):
    """No $ref points outside the document or at nothing."""
    refs = set(_refs(spec))
    assert refs, "the document should use component schemas"
    for ref in refs:
        _lookup(spec, ref)


@pytest.mark.parametrize("path", sorted(PUBLIC_PATHS))
def test_public_path_is_documented_with_its_parameters(spec, path):
    """Each public path has a GET with a summary and all its query parameters."""
    assert path in spec["paths"], f"{path} missing from {sorted(spec['paths'])}"
    op = spec["paths"][path].get("get")
    assert op is not None, f"{path} has no GET"
    assert op.get("summary"), f"GET {path} has no summary"
    query = {p["name"] for p in _parameters(spec, path, "get") if p["in"] == "query"}
    missing = PUBLIC_PATHS[path] - query
    assert not missing, f"GET {path} does not document {sorted(missing)}"


def test_nearby_requires_lat_and_lon(spec):
    """lat and lon are documented as required query parameters of nearby."""
    params = {p["name"]: p for p in _parameters(spec, "/v1/sites/nearby", "get")}
    assert params["lat"].get("required") is True
    assert params["lon"].get("required") is True


def test_every_operation_has_a_summary(spec):
    """Summaries come from the views' one-line docstrings."""
    for path, method, op in _operations(spec):
        assert op.get("summary"), f"{method.upper()} {path} has no summary"


@pytest.fixture()
def docs_html(client) -> str:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']([^"']+)["']""", html)


def test_docs_page_uses_swagger_ui(docs_html):
    """/docs is a Swagger UI page pointed at our own document."""
    assert "SwaggerUIBundle" in docs_html
    assert "/openapi.json" in docs_html
    names = " ".join(_asset_urls(docs_html))
    assert "swagger-ui-bundle.js" in names and "swagger-ui.css" in names


def test_docs_assets_are_served_locally(client, docs_html):
    """No CDN: every script/stylesheet URL is on this host and answers 200."""
    urls = _asset_urls(docs_html)
    assert urls
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{url} is not served locally"
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.data, url
        response.close()
    # Nothing at all in the page loads from another host.
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", docs_html)
