"""Fuzz the opening_hours and timezone validation the API applies, then the evaluation.

Input: an opening_hours expression and a time zone, as a site write carries them. The
only exception allowed out of validation is marshmallow's ValidationError (the API's 422);
an expression that validates must then evaluate (materialising its open intervals, as
every write does) without any exception, with intervals inside the window and in order.

    python fuzz/hours_fuzz.py [corpus dirs] -max_total_time=600
"""

import sys
from datetime import UTC, datetime, timedelta

import _common  # noqa: F401
import atheris

with atheris.instrument_imports(include=["service", "marshmallow"]):
    from marshmallow import ValidationError

    from service.hours import evaluate
    from service.sites.schemas import SitePatchSchema

ZONES = ["Asia/Shanghai", "Asia/Urumqi", "UTC", "Pacific/Kiritimati", "America/St_Johns"]
SCHEMA = SitePatchSchema()
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def test_one_input(data: bytes) -> None:
    # Byte 0 picks the zone (or: the text's first line is the zone), bytes 1-2 the start
    # of the window (days from 2026-01-01), the rest is the expression (seeds are made so).
    head, rest = data[:3].ljust(3, b"\0"), data[3:]
    try:  # lone surrogates (CESU-8 bytes) come through as the API's JSON would carry them
        text = rest.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        text = rest.decode("latin-1")
    if head[0] % (len(ZONES) + 1) < len(ZONES):
        zone, expression = ZONES[head[0] % (len(ZONES) + 1)], text
    else:  # any text, as a client may send it
        zone, _, expression = text.partition("\n")
    start = EPOCH + timedelta(days=int.from_bytes(head[1:3], "little", signed=True) / 64)
    try:
        loaded = SCHEMA.load({"opening_hours": expression, "timezone": zone})
    except ValidationError:
        return
    end = start + timedelta(days=2)
    # The window's first day is a holiday (byte 1's low bit: the second too), so `PH`
    # takes the calendar path: the expression evaluated again with PH as a weekday.
    day = start.date()
    holidays = frozenset([day, day + timedelta(days=1)][: 1 + (head[1] & 1)])
    spans = evaluate.open_intervals(
        loaded["opening_hours"], loaded["timezone"], start, end, holidays
    )
    previous_end = start
    for lo, hi in spans:
        assert lo.tzinfo is not None and lo >= previous_end - timedelta(seconds=1), spans
        assert hi is None or lo < hi <= end, spans
        previous_end = hi or end


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
