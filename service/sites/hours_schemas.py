"""The hours fields of a site write beyond `opening_hours`: special days and a closure.

Special days are checked entry by entry (hours/special.py does the rules; errors name the
entry's index) and returned in their canonical form; a closure's three fields must agree,
which a create checks in its schema and a patch against the site it changes (sites/store.py).
"""

from datetime import datetime

from marshmallow import RAISE, Schema, ValidationError, validate

from service.core import clock
from service.core.params import Day, Text
from service.core.settings import DEFAULT_TIMEZONE
from service.hours import special


class SpecialDayIn(Schema):
    class Meta:
        unknown = RAISE

    from_ = Day(data_key="from", required=True)
    to = Day(allow_none=True)
    hours = Text(required=True, validate=validate.Length(1, 200))
    reason = Text(allow_none=True, validate=validate.Length(max=100))


def special_days_in(value) -> list[dict]:
    """Special days of a request body, validated (errors name the entry's index) and in their
    canonical form (sorted, `to` filled in, hours normalised)."""
    if not isinstance(value, list):
        raise ValidationError("Must be a list of special days (应为特殊日期列表).")
    if len(value) > special.MAX_ENTRIES:
        raise ValidationError(
            f"最多 {special.MAX_ENTRIES} 项 (at most {special.MAX_ENTRIES} special days)"
        )
    entries, errors = [], {}
    for index, item in enumerate(value):
        try:
            loaded = SpecialDayIn().load(item) if isinstance(item, dict) else None
            if loaded is None:
                raise ValidationError("Must be an object (应为对象).")
            entries.append(
                special.entry(
                    loaded["from_"], loaded.get("to"), loaded["hours"], loaded.get("reason")
                )
            )
        except ValidationError as exc:
            errors[index] = exc.messages
        except special.SpecialDayError as exc:
            errors[index] = {exc.field: [f"第 {index + 1} 项 (special_days[{index}]): {exc}"]}
    if errors:
        raise ValidationError(errors)
    try:
        special.check_overlaps(entries)
    except special.SpecialDayError as exc:
        raise ValidationError(str(exc)) from None
    return special.as_list(special.canonical(entries))


def closure_problem(site: dict, now: datetime) -> tuple[str, str] | None:
    """(field, message) when a site's status, closed_until and closure_reason disagree."""
    status = site.get("status") or "active"
    closed_until = site.get("closed_until")
    if closed_until is not None:
        if status != "temporarily_closed":
            return (
                "closed_until",
                "只有暂停开放的站点可设重新开放日期 (closed_until needs status temporarily_closed)",
            )
        zone = site.get("timezone") or DEFAULT_TIMEZONE
        today = now.astimezone(clock.zone(zone)).date()
        if closed_until <= today:
            return (
                "closed_until",
                f"重新开放日期须晚于今天 {today}（站点时区 {zone}）"
                f"(closed_until must be after today, {today} in {zone})",
            )
    if site.get("closure_reason") and status == "active":
        return (
            "closure_reason",
            "开放中的站点没有关闭原因 (closure_reason is for a closed or temporarily closed site)",
        )
    return None
