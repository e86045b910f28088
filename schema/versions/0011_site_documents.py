"""Each site keeps its public JSON beside its row: lists send stored text, not 20 columns.

A GeoJSON page of ~245 sites cost 8.4 ms of CPU at 1e6 sites (docs/benchmarks/history/
2026-11-27-0645-cpu-per-request.md): 5.3 ms in the workers, most of it building each feature
from 20 columns (a dict, a timestamp in the site's zone, orjson), and 2.8 ms in PostgreSQL;
/healthz costs 0.5 ms.
Sites change rarely and are read often, so each keeps its representation, as compact JSON:

- `sites.doc`: the Site of API.md without `org` and `location`, a generated column (kept on
  every write path, COPY included, with no trigger). It is left open (no closing brace):
  readers append members, and `left(doc, -1)` cost 2.8 us a row (it counts characters);
- `sites.geometry_doc`: its GeoJSON Point in WGS-84, coordinates to 7 decimals, from which
  every answer takes them (so a GeoJSON page made by PostgreSQL and a nearby answer agree);
- `orgs.doc`: an org reference, `{"code": ..., "name": ...}`, generated likewise.

A read joins a site's and its org's documents and adds the location in the datum asked
for (`service/sites/serialize.py`); a GeoJSON page in WGS-84 comes from PostgreSQL as one
text per Feature, which Python joins without parsing. tests/sites/test_documents.py holds the
documents to a rendering of the columns by Python, byte for byte. `updated_at` is written
as serialize.rfc3339 writes it: to the second (cut, not rounded), in the site's zone, with
its offset (seconds only where the offset has them, before ~1900).

A generated column's function must be IMMUTABLE. These are, in effect: what they use
(to_json of text, to_char of a timestamp with a numeric pattern, numeric text) depends on no
setting; a time zone's rules changing for past instants would leave old documents as they
were.

A per-row trigger was tried first: it made loading 1e6 synthetic sites take 307 s instead
of 112 s (PL/pgSQL and a query per row, and no batched inserts under a BEFORE ROW trigger).
Adding the columns rewrites `sites` once, under an exclusive lock: 55 s at 1e6 sites.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The arguments of site_document, in its order: the generated column passes these columns.
ARGUMENTS = (
    ("id", "bigint"), ("kind", "text"), ("name", "text"), ("name_en", "text"),
    ("external_id", "text"), ("address", "text"), ("amenities", "text[]"),
    ("opening_hours", "text"), ("timezone", "text"), ("status", "text"),
    ("area_m2", "numeric"), ("star_rating", "smallint"), ("phone", "text"),
    ("description", "text"), ("updated_at", "timestamptz"), ("version", "integer"),
)  # fmt: skip


def site_document_function() -> str:
    """The CREATE FUNCTION of this revision's site_document (0013 restores it on downgrade)."""
    params = ", ".join(f"{name} {kind}" for name, kind in ARGUMENTS)
    return f"""
        CREATE FUNCTION site_document({params}) RETURNS text
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
        DECLARE
            wall timestamp := updated_at AT TIME ZONE timezone;
            off integer := extract(epoch FROM wall - (updated_at AT TIME ZONE 'UTC'))::integer;
            a integer := abs(off);
        BEGIN
            RETURN '{{"id":' || id
                || ',"kind":' || to_json(kind)
                || ',"name":' || to_json(name)
                || ',"name_en":' || coalesce(to_json(name_en)::text, 'null')
                || ',"external_id":' || coalesce(to_json(external_id)::text, 'null')
                || ',"address":' || coalesce(to_json(address)::text, 'null')
                || ',"amenities":' || array_to_json(amenities)
                || ',"opening_hours":' || coalesce(to_json(opening_hours)::text, 'null')
                || ',"timezone":' || to_json(timezone)
                || ',"status":' || to_json(status)
                || ',"area_m2":' || coalesce(area_m2::text, 'null')
                || ',"star_rating":' || coalesce(star_rating::text, 'null')
                || ',"phone":' || coalesce(to_json(phone)::text, 'null')
                || ',"description":' || coalesce(to_json(description)::text, 'null')
                || ',"updated_at":"' || to_char(wall, 'YYYY-MM-DD"T"HH24:MI:SS')
                || CASE WHEN off < 0 THEN '-' ELSE '+' END
                || lpad((a / 3600)::text, 2, '0') || ':' || lpad((a % 3600 / 60)::text, 2, '0')
                || CASE WHEN a % 60 = 0 THEN '' ELSE ':' || lpad((a % 60)::text, 2, '0') END
                || '","version":' || version;
        END $$;

    """


def upgrade() -> None:
    op.execute(site_document_function())
    op.execute(
        """
        -- Coordinates to 7 decimals, half away from zero, of the point's 15 significant
        -- digits (a double's cast to numeric): 30.12345675 is written 30.1234568. Every
        -- answer in WGS-84 takes its coordinates from here (service/sites/serialize.py).
        -- Written as numeric, trailing zeros trimmed: a float8's text would depend on the
        -- writer's extra_float_digits, and a generated column must not.
        CREATE FUNCTION geometry_document(geom geometry) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN '{"type":"Point","coordinates":[' || trim_scale(round(ST_X(geom)::numeric, 7))
            || ',' || trim_scale(round(ST_Y(geom)::numeric, 7)) || ']}';

        CREATE FUNCTION org_document(code text, name text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN '{"code":' || to_json(code) || ',"name":' || to_json(name) || '}';
        """
    )
    columns = ", ".join(name for name, _ in ARGUMENTS)
    # One statement, so the table is rewritten once.
    op.execute(
        f"ALTER TABLE sites ADD COLUMN doc text NOT NULL "
        f"GENERATED ALWAYS AS (site_document({columns})) STORED, "
        "ADD COLUMN geometry_doc text NOT NULL "
        "GENERATED ALWAYS AS (geometry_document(geom)) STORED"
    )
    op.execute(
        "ALTER TABLE orgs ADD COLUMN doc text NOT NULL "
        "GENERATED ALWAYS AS (org_document(code::text, name)) STORED"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE orgs DROP COLUMN doc")
    op.execute("ALTER TABLE sites DROP COLUMN doc, DROP COLUMN geometry_doc")
    op.execute("DROP FUNCTION org_document, geometry_document, site_document")
