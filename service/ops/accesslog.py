"""gunicorn's access log without credentials: query parameters that look like one keep their
name and lose their value (`?access_token=[redacted]`), and credential headers never become log
atoms. No route takes a credential in the query string (a token there is a 401 or 422), but a
client may still send one, and the access log writes the whole request line."""

from urllib.parse import unquote

from gunicorn.glogging import Logger

# Names (compared in lower case, with - and _ alike) whose values are never written.
SECRET_NAMES = {
    "token", "access_token", "refresh_token", "id_token", "auth", "authorization", "key",
    "api_key", "apikey", "x_api_key", "password", "passwd", "pwd", "secret", "client_secret",
    "signature", "sig", "session", "sessionid",
}  # fmt: skip
SECRET_HEADERS = {"authorization", "x-api-key", "cookie", "proxy-authorization"}
REDACTED = "[redacted]"


def _secret(name: str) -> bool:
    return unquote(name).strip().lower().replace("-", "_") in SECRET_NAMES


def redact_query(query: str) -> str:
    """The query string as sent, each secret-looking parameter's value replaced."""
    if not query:
        return query
    out = []
    for part in query.split("&"):
        name, eq, _value = part.partition("=")
        out.append(f"{name}={REDACTED}" if eq and _secret(name) else part)
    return "&".join(out)


def redact_uri(uri: str) -> str:
    path, mark, query = uri.partition("?")
    return path + mark + redact_query(query) if mark else uri


class RedactingLogger(Logger):
    """`--logger-class=service.ops.accesslog.RedactingLogger` (service/ops/serving.py)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        uri = redact_uri(environ.get("RAW_URI", ""))
        atoms["r"] = f"{environ['REQUEST_METHOD']} {uri} {environ['SERVER_PROTOCOL']}"
        atoms["q"] = redact_query(environ.get("QUERY_STRING") or "")
        for name in SECRET_HEADERS:
            if f"{{{name}}}i" in atoms:
                atoms[f"{{{name}}}i"] = REDACTED
        return atoms
