"""SQL for the amenity vocabulary."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from service.core import vocabulary
from service.core.models import Amenity


def all_amenities(conn: sa.Connection) -> list[sa.Row]:
    stmt = sa.select(Amenity.code, Amenity.label, Amenity.label_en, Amenity.category).order_by(
        Amenity.sort_order
    )
    return conn.execute(stmt).all()


def sync_vocabulary(conn: sa.Connection) -> int:
    """Upsert the vocabulary file into the table (codes are never deleted: sites use them)."""
    rows = [
        {**{k: a[k] for k in ("code", "label", "label_en", "category")}, "sort_order": i}
        for i, a in enumerate(vocabulary.amenities())
    ]
    stmt = insert(Amenity).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Amenity.code],
        set_={c: stmt.excluded[c] for c in ("label", "label_en", "category", "sort_order")},
    )
    conn.execute(stmt)
    return len(rows)
