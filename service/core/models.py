"""SQLAlchemy 2.0 models, mirroring the schema that `schema/versions` creates.

The migrations are the source of truth (indexes, checks, generated columns);
these classes give queries typed, named columns to build on.
"""

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from geoalchemy2 import Geography, Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZRANGE, Range
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from service.core.settings import DEFAULT_TIMEZONE

KINDS = ("station", "home", "facility")
STATUSES = ("active", "temporarily_closed", "closed")


class Ltree(sa.types.UserDefinedType):
    """PostgreSQL `ltree`: dotted org codes, bound and read as plain strings."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "LTREE"

    def bind_expression(self, bindvalue):
        return sa.cast(bindvalue, self)

    class comparator_factory(sa.types.UserDefinedType.Comparator):
        def descendant_of(self, other):
            """`code <@ other`: this org is `other` or below it."""
            return self.op("<@", return_type=sa.Boolean)(other)


class PgPoint(sa.types.UserDefinedType):
    """PostgreSQL's own `point` (not PostGIS): its GiST index keeps exact points."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "POINT"


class Base(DeclarativeBase):
    type_annotation_map = {datetime: sa.DateTime(timezone=True), str: sa.Text}


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(sa.Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(Ltree, unique=True)
    name: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    # {"code": ..., "name": ...}, as sites carry it (schema/versions/0011_site_documents.py).
    doc: Mapped[str] = mapped_column(sa.Computed("org_document(code::text, name)"), deferred=True)


class Amenity(Base):
    __tablename__ = "amenities"

    code: Mapped[str] = mapped_column(primary_key=True)
    label: Mapped[str]
    label_en: Mapped[str]
    category: Mapped[str]
    sort_order: Mapped[int]


class CalendarYear(Base):
    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str]
    days: Mapped[int]
    loaded_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class CalendarDay(Base):
    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(sa.ForeignKey("calendar_years.year", ondelete="CASCADE"))
    kind: Mapped[str]
    name: Mapped[str]


class HoursPattern(Base):
    """One distinct hours definition shared by many sites (schema/versions/0013_special_days.py):
    weekly rules, zone, make-up days, special days and a closure's end."""

    __tablename__ = "hours_patterns"

    id: Mapped[int] = mapped_column(sa.Identity(), primary_key=True)
    opening_hours: Mapped[str]
    timezone: Mapped[str]
    workday_swaps: Mapped[bool] = mapped_column(default=False)
    special_days: Mapped[str] = mapped_column(default="[]")
    closed_until: Mapped[date | None]


class HoursPatternInterval(Base):
    """An open interval of a pattern within the materialised horizon."""

    __tablename__ = "hours_pattern_intervals"

    pattern_id: Mapped[int] = mapped_column(sa.ForeignKey("hours_patterns.id"), primary_key=True)
    during: Mapped[Range[datetime]] = mapped_column(TSTZRANGE, primary_key=True)


class HoursHorizon(Base):
    __tablename__ = "hours_horizon"

    singleton: Mapped[bool] = mapped_column(primary_key=True, default=True)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    refreshed_at: Mapped[datetime]


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    kind: Mapped[str]
    name: Mapped[str]
    name_en: Mapped[str | None]
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"))
    external_id: Mapped[str | None]
    address: Mapped[str | None]
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    geog = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False), sa.Computed("geom::geography")
    )
    # The same point for box lists answered from an index alone (0008_list_points.py).
    pt = mapped_column(PgPoint(), sa.Computed("point(ST_X(geom), ST_Y(geom))"), deferred=True)
    amenities: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), default=list)
    opening_hours: Mapped[str | None]
    timezone: Mapped[str] = mapped_column(default=DEFAULT_TIMEZONE)
    hours_pattern_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hours_patterns.id"))
    workday_swaps: Mapped[bool] = mapped_column(default=False)
    # Compact JSON, as service/hours/special.py writes it (schema/versions/0013_special_days.py).
    special_days: Mapped[str] = mapped_column(default="[]")
    status: Mapped[str] = mapped_column(default="active")
    closed_until: Mapped[date | None]
    closure_reason: Mapped[str | None]
    area_m2: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 1))
    star_rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    phone: Mapped[str | None]
    description: Mapped[str | None]
    search_text: Mapped[str] = mapped_column(
        sa.Computed(
            "lower(name || E'\\x1f' || coalesce(name_en, '') || E'\\x1f' || coalesce(address, ''))"
        )
    )
    search_grams: Mapped[list[str]] = mapped_column(
        ARRAY(sa.Text),
        sa.Computed(
            "cjk_grams(lower(name || E'\\x1f' || coalesce(name_en, '') || E'\\x1f' "
            "|| coalesce(address, '')))"
        ),
    )
    # Amenities and open-hours pattern as integers, so the nearby index can test
    # them (schema/versions/0006_filter_keys.py).
    filter_keys: Mapped[list[int]] = mapped_column(
        ARRAY(sa.Integer),
        sa.Computed(
            "site_filter_keys(amenities, CASE WHEN status = 'temporarily_closed' "
            "AND closed_until IS NOT NULL THEN 'active' ELSE status END, hours_pattern_id)"
        ),
    )
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    version: Mapped[int] = mapped_column(default=1)
    deleted_at: Mapped[datetime | None]
    # The site's public JSON but for org and location, its object left open: no closing brace
    # (schema/versions/0011_site_documents.py). geometry_doc: its GeoJSON Point, 7 decimals.
    doc: Mapped[str] = mapped_column(
        sa.Computed(
            "site_document(id, kind, name, name_en, external_id, address, amenities, "
            "opening_hours, timezone, workday_swaps, special_days, status, closed_until, "
            "closure_reason, area_m2, star_rating, phone, description, updated_at, version)"
        ),
        deferred=True,
    )
    geometry_doc: Mapped[str] = mapped_column(sa.Computed("geometry_document(geom)"), deferred=True)


ROLES = ("admin", "editor", "viewer")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(sa.Identity(), primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"))
    name: Mapped[str]
    role: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    disabled_at: Mapped[datetime | None]


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(sa.Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary)
    label: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SiteAudit(Base):
    __tablename__ = "site_audit"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    action: Mapped[str]
    changes: Mapped[dict] = mapped_column(JSONB)
    version: Mapped[int]
    at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    key: Mapped[str] = mapped_column(primary_key=True)
    request_hash: Mapped[str]
    status: Mapped[int | None]
    body: Mapped[dict | None] = mapped_column(JSONB)
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())


REPORT_CATEGORIES = ("closed_but_listed_open", "amenity_missing", "wrong_location", "other")
REPORT_STATUSES = ("open", "resolved", "rejected")


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    category: Mapped[str]
    comment: Mapped[str | None]
    status: Mapped[str] = mapped_column(default="open")
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.now())
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    note: Mapped[str | None]
