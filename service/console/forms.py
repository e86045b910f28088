"""The site form of the console: form fields to the API's write body, and back.

The body is validated by the API's own `SiteWriteSchema`, so the console refuses exactly
what the API refuses, with the same messages, shown next to their fields.

A coordinate pair pasted from a map app comes as the app writes it: Amap and Baidu write
`lon,lat` (`121.544,29.868`), Tencent `lat,lon`; the order is told by the ranges (a latitude
is within ±90, and in China a longitude is above 73), and the datum is chosen beside it
(GCJ-02 by default: Amap and Tencent; BD-09: Baidu). The point is stored in WGS-84.
"""

import re

from service.geo import datums

PAIR = re.compile(r"\s*([+-]?\d{1,3}(?:\.\d+)?)\s*[,，\s]\s*([+-]?\d{1,3}(?:\.\d+)?)\s*")
DATUMS = {
    "gcj02": "GCJ-02（高德、腾讯）",
    "bd09": "BD-09（百度）",
    "wgs84": "WGS-84（GPS、天地图）",
}
TEXT_FIELDS = ("name", "name_en", "external_id", "address", "opening_hours", "phone")
NULLABLE = ("name_en", "external_id", "address", "opening_hours", "phone", "description",
            "closure_reason", "closed_until")  # fmt: skip


# The fields a conflict shows side by side.
COMPARED = (
    "kind", "name", "name_en", "external_id", "org", "address", "lat", "lon", "amenities",
    "opening_hours", "timezone", "workday_swaps", "special_days", "status", "closed_until",
    "closure_reason", "area_m2", "star_rating", "phone", "description",
)  # fmt: skip


def values_from(form) -> dict:
    """A submitted form as the values the form shows again (nothing typed is lost)."""
    values = {k: v for k, v in form.items() if k not in ("amenities", "csrf_token")}
    values["amenities"] = form.getlist("amenities")
    values["workday_swaps"] = form.get("workday_swaps") == "on"
    return values


class PairError(ValueError):
    pass


def parse_pair(text: str) -> tuple[float, float]:
    """(lat, lon) of a pasted pair in either order; PairError when it is not one."""
    match = PAIR.fullmatch(text)
    if match is None:
        raise PairError("坐标应为两个数，用逗号分开，例如 121.544,29.868 (two numbers)")
    a, b = float(match.group(1)), float(match.group(2))
    if abs(a) <= 90 and abs(b) > 90:
        return a, b
    if abs(b) <= 90 and abs(a) > 90:
        return b, a
    if abs(a) <= 90 and abs(b) <= 90:
        # Both could be latitudes: in China the longitude is the larger (73..135 > 18..54).
        return (b, a) if a > b else (a, b)
    raise PairError("不是有效的经纬度 (not a latitude and longitude)")


def converted(text: str, datum: str) -> tuple[float, float]:
    """The pasted pair in WGS-84."""
    lat, lon = parse_pair(text)
    if datum not in DATUMS:
        raise PairError("未知坐标系 (unknown datum)")
    return datums.to_wgs84(lat, lon, datum)


def special_days_text(entries: list[dict]) -> str:
    """Special days as the form shows them: one a line, `from [to] hours [reason]`."""
    lines = []
    for e in entries:
        dates = e["from"] if e["to"] == e["from"] else f"{e['from']} {e['to']}"
        lines.append(" ".join(p for p in (dates, e["hours"], e.get("reason") or "") if p))
    return "\n".join(lines)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def special_days_from(text: str) -> list[dict] | str:
    """The form's lines as the API's entries; a message naming the line when one is not
    `date [date] hours [reason]`."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        if not _DATE.fullmatch(words[0]):
            return f"第 {number} 行应以日期开头，例如 2027-02-10 2027-02-12 off 春节闭站"
        entry = {"from": words.pop(0)}
        if words and _DATE.fullmatch(words[0]):
            entry["to"] = words.pop(0)
        if not words:
            return f"第 {number} 行缺少营业时间（off 或 10:00-16:00）"
        entry["hours"] = words.pop(0)
        if words:
            entry["reason"] = " ".join(words)
        entries.append(entry)
    return entries


def body_from(form, amenities: list[str]) -> tuple[dict, dict]:
    """(the write body, errors of the console's own fields) from a submitted form."""
    body, errors = {}, {}
    for field in (*TEXT_FIELDS, "kind", "org", "timezone", "status", "description",
                  "closure_reason", "closed_until"):  # fmt: skip
        value = form.get(field, "").strip() if field != "description" else form.get(field, "")
        if value:
            body[field] = value
        elif field in NULLABLE:
            body[field] = None
    for field, convert in (("area_m2", float), ("star_rating", int)):
        value = form.get(field, "").strip()
        if value:
            try:
                body[field] = convert(value)
            except ValueError:
                errors[field] = "应为数字 (a number)"
        else:
            body[field] = None
    body["amenities"] = [a for a in form.getlist("amenities") if a in amenities]
    body["workday_swaps"] = form.get("workday_swaps") == "on"
    special = special_days_from(form.get("special_days", ""))
    if isinstance(special, str):
        errors["special_days"] = special
    else:
        body["special_days"] = special
    pair = form.get("pair", "").strip()
    try:
        if pair:
            lat, lon = converted(pair, form.get("datum", "gcj02"))
        else:
            lat, lon = float(form.get("lat", "")), float(form.get("lon", ""))
        body["location"] = {"lat": lat, "lon": lon}
    except PairError as exc:
        errors["location"] = str(exc)
    except ValueError:
        errors["location"] = (
            "请在地图上点选位置，或粘贴坐标 (pick the place on the map or paste it)"
        )
    return body, errors


def flat_errors(messages) -> dict[str, str]:
    """marshmallow's messages as {field: one line}, nested names joined (location.lat)."""
    out: dict[str, str] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and value and not isinstance(value[0], str):
            for inner in value:
                walk(prefix, inner)
        else:
            text = "；".join(value) if isinstance(value, list) else str(value)
            top = prefix.split(".")[0]
            out[top] = f"{out[top]}；{text}" if top in out else text

    walk("", messages)
    return out
