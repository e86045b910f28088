"""The shared site filters (kind, amenities, open_at, q, org): from a query, as SQL conditions.

Conditions use bind parameters named after the filters, so a statement is built
once per shape (the set of filters present) and reused; `Filters.params()` gives
the values.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_smorest import abort
from sqlalchemy.dialects.postgresql import ARRAY

from service.core.cache import cached
from service.core.models import HoursPatternInterval, Ltree, Org, Site
from service.core.params import invalid
from service.hours import store as hours_store

# 'closed' is a literal, not a bind parameter: a prepared statement's generic plan must
# still match the partial indexes (WHERE status <> 'closed'); one measured ~1 s without.
LISTED = sa.and_(Site.deleted_at.is_(None), Site.status != sa.literal_column("'closed'"))


@dataclass(frozen=True)
class Filters:
    kinds: list[str] | None = None
    amenities_all: list[str] | None = None
    amenities_any: list[str] | None = None
    open_at: datetime | None = None
    q: str | None = None
    org: str | None = None

    def params(self) -> dict:
        """Bind values of the filters that are set (their names are the statement's shape)."""
        values = {
            "kinds": self.kinds,
            "amenities_all": self.amenities_all,
            "amenities_any": self.amenities_any,
            "open_at": self.open_at,
            "q": _like_pattern(self.q) if self.q else None,
            "q_grams": cjk_grams(self.q) if self.q else None,
            "org": self.org,
        }
        return {k: v for k, v in values.items() if v}

    def key(self) -> tuple:
        """The bind values as a hashable key (lists become tuples), e.g. for a cache."""
        return tuple(
            sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in self.params().items())
        )


def from_args(args: dict, conn: sa.Connection, at: datetime) -> Filters:
    """The filters of a parsed query (nearby, lists, tiles, OGC items).

    open_now/open_at must fall inside the materialised hours horizon: open_now outside it
    is a 503 (the hours were not refreshed), open_at a 422 naming the horizon.
    """
    open_at = at if args.get("open_now") else args.get("open_at")
    if open_at is not None:
        horizon = cached("hours_horizon", lambda: hours_store.current_horizon(conn))
        if horizon is None or not horizon.covers(open_at):
            if args.get("open_now"):
                abort(
                    503,
                    message="Opening hours are not materialised for now; "
                    "run `yizhan hours refresh`.",
                    headers={"Retry-After": "60"},
                )
            span = (
                f"{horizon.valid_from.isoformat()} to {horizon.valid_until.isoformat()}"
                if horizon
                else "none"
            )
            invalid("open_at", f"Must lie within the opening-hours horizon ({span}).")
    return Filters(
        kinds=args.get("kind"),
        amenities_all=args.get("amenities"),
        amenities_any=args.get("any_amenities"),
        open_at=open_at,
        q=args.get("q"),
        org=args.get("org"),
    )


# Statements are built once per shape (which filters are present) with bind parameters,
# and cached: building a SQLAlchemy statement cost ~1 ms per request, more than its SQL.
TEXTS = ARRAY(sa.Text)
TSTZ = sa.DateTime(timezone=True)
_P = sa.bindparam


def cjk_grams(text: str) -> list[str]:
    """A subset of what SQL `cjk_grams` makes of any text containing `text`.

    The index condition `search_grams @> cjk_grams(q)` must never drop a real match, so
    only grams that Python and PostgreSQL surely agree on are used: non-ASCII characters
    without case (CJK), next to each other or to ASCII. LIKE then decides exactly.
    """
    text = text.lower()
    grams = {c for c in text if _caseless(c)}
    for a, b in zip(text, text[1:], strict=False):
        if (_caseless(a) or _caseless(b)) and _plain(a) and _plain(b):
            grams.add(a + b)
    return sorted(grams)


def _caseless(c: str) -> bool:
    return ord(c) > 127 and not c.isspace() and c.lower() == c == c.upper()


def _plain(c: str) -> bool:
    return _caseless(c) or (ord(c) < 128 and not c.isspace() and c.isprintable())


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _in_array(column, subquery: sa.Select) -> sa.ColumnElement[bool]:
    """`column = ANY((SELECT array_agg(...)))`: the subquery runs once as an InitPlan and
    the test stays a plain filter on the index scan. As `IN (subquery)` the planner chose
    a hash semi-join plus a sort over the whole radius instead of a streaming KNN scan
    (4 ms instead of 1.4 ms at 1e6 sites)."""
    # The cast keeps `ANY` reading an array, not a subquery of rows.
    return column == sa.any_(sa.cast(subquery.scalar_subquery(), ARRAY(sa.Integer)))


# A site closed until a date is open where its pattern says: the pattern holds the closure
# (its intervals begin at the reopening; schema/versions/0013_special_days.py).
OPENABLE = sa.or_(
    Site.status == "active",
    sa.and_(Site.status == "temporarily_closed", Site.closed_until.is_not(None)),
)


def open_at_condition(t) -> sa.ColumnElement[bool]:
    """Open at `t`: active (or closed until a date), and its hours pattern has an interval
    containing `t`."""
    open_patterns = sa.select(sa.func.array_agg(HoursPatternInterval.pattern_id)).where(
        HoursPatternInterval.during.contains(t)
    )
    return sa.and_(OPENABLE, _in_array(Site.hours_pattern_id, open_patterns))


def open_key_condition(t) -> sa.ColumnElement[bool]:
    """Open at `t`, tested on `filter_keys`: a site holds the key -pattern_id exactly while
    it is active (or closed until a date) with an hours pattern (schema/versions/
    0006_filter_keys.py, 0013_special_days.py), so this is `open_at_condition` in a form the
    nearby index evaluates."""
    open_keys = sa.select(sa.func.array_agg(-HoursPatternInterval.pattern_id)).where(
        HoursPatternInterval.during.contains(t)
    )
    return Site.filter_keys.op("&&")(sa.cast(open_keys.scalar_subquery(), ARRAY(sa.Integer)))


def conditions(shape: frozenset[str], keyed: bool = False) -> list[sa.ColumnElement[bool]]:
    """The filters of `shape` as SQL conditions.

    `keyed`: for the nearby KNN scan, whose index holds `filter_keys`. Amenities are then
    also tested on their keys, which the index evaluates (a prefilter; the exact test stays
    and decides), and open_at is tested on its key alone (exact). A kind gets no key: it
    rarely narrows much, and a key for it made the planner prefer that index over a rare
    text match's."""
    conds: list[sa.ColumnElement[bool]] = [LISTED]
    keys = Site.filter_keys
    if "kinds" in shape:
        conds.append(Site.kind == sa.any_(_P("kinds", type_=TEXTS)))
    if "amenities_all" in shape:
        wanted = _P("amenities_all", type_=TEXTS)
        conds.append(Site.amenities.contains(wanted))
        if keyed:
            conds.append(keys.op("@>")(sa.func.amenity_keys(wanted)))
    if "amenities_any" in shape:
        wanted = _P("amenities_any", type_=TEXTS)
        conds.append(Site.amenities.overlap(wanted))
        if keyed:
            conds.append(keys.op("&&")(sa.func.amenity_keys(wanted)))
    if "open_at" in shape:
        t = _P("open_at", type_=TSTZ)
        conds.append(open_key_condition(t) if keyed else open_at_condition(t))
    if "q_grams" in shape:  # narrows Chinese text through its index; LIKE below decides
        conds.append(Site.search_grams.contains(_P("q_grams", type_=TEXTS)))
    if "q" in shape:
        conds.append(Site.search_text.like(_P("q", type_=sa.Text), escape="\\"))
    if "org" in shape:
        subtree = sa.select(sa.func.array_agg(Org.id)).where(
            Org.code.descendant_of(_P("org", type_=Ltree()))
        )
        conds.append(_in_array(Site.org_id, subtree))
    return conds


RARE = 0.01


def amenity_frequencies(conn: sa.Connection) -> dict[str, float]:
    """Share of sites having each common amenity, from the planner's statistics."""
    row = conn.execute(
        sa.text(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'sites' "
            "AND attname = 'amenities'"
        )
    ).first()
    return dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}


def is_selective(filters: Filters, frequencies: dict[str, float]) -> bool:
    """Does a filter match so few sites that its own index should drive the list query?

    The planner walks the id index and filters as it goes when it expects matches to be
    common; for an amenity that is rare or absent it still does (its statistics only say
    "not among the common elements"), and one such list over a 1e6-site box walked the
    whole index (344 ms instead of 2.3 ms through the amenity index).
    """
    if filters.q:
        return True
    if any(frequencies.get(a, 0.0) < RARE for a in filters.amenities_all or ()):
        return True
    if filters.amenities_any:
        return sum(frequencies.get(a, 0.0) for a in filters.amenities_any) < RARE
    return False


def selective(conn: sa.Connection, filters: Filters) -> bool:
    """is_selective with the amenity frequencies of the last CACHE_SECONDS."""
    return is_selective(filters, cached("amenity_frequencies", lambda: amenity_frequencies(conn)))
