"""gunicorn's sync worker, answering the requests it refuses itself (a bad request line, a URI
over --limit-request-line, too many or too large header fields) as RFC 9457 problem+json like
every answer of the app, not as gunicorn's HTML page. The detail is fixed per status: the
refused bytes (which may hold a token) are never echoed."""

import orjson
from gunicorn import util
from gunicorn.workers.sync import SyncWorker

from service.ops import serving

DETAILS = {
    400: "The HTTP request could not be read.",
    403: "The request was refused.",
    414: f"The request line is longer than {serving.LIMIT_REQUEST_LINE} bytes.",
    417: "The expectation in the Expect header cannot be met.",
    431: (
        f"Too many header fields (at most {serving.LIMIT_REQUEST_FIELDS}) or one longer than "
        f"{serving.LIMIT_REQUEST_FIELD_SIZE} bytes."
    ),
    500: "An unexpected error occurred; it has been logged.",
    501: "This transfer coding is not supported.",
}


def write_problem(sock, status_int: int, reason: str, _mesg: str) -> None:
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": reason,
            "status": status_int,
            "detail": DETAILS.get(status_int, "The request was refused."),
        }
    )
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class ProblemSyncWorker(SyncWorker):
    """`--worker-class=service.ops.worker.ProblemSyncWorker` (service/ops/serving.py)."""

    def handle_error(self, req, client, addr, exc):
        # A sync worker serves one request at a time: swapping the writer for this call
        # touches no other request.
        html_writer, util.write_error = util.write_error, write_problem
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            util.write_error = html_writer
