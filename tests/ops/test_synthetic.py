"""The synthetic loader (fixtures/synthetic.py): seeded rows, and the bulk path that drops and
rebuilds the indexes of `sites` around its COPY."""

import pytest
import sqlalchemy as sa

from fixtures import synthetic
from tests.conftest import FROZEN_NOW, HORIZON_DAYS, IN_ORDER

INDEXES = sa.text(
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'sites' ORDER BY indexname"
)


def test_bulk_load_leaves_every_index_as_it_was(conn, monkeypatch):
    before = conn.execute(INDEXES).all()
    assert len(before) >= 10
    monkeypatch.setattr(synthetic, "BULK_ROWS", 100)  # take the bulk path with few rows
    assert synthetic.load(conn, 300, 3, FROZEN_NOW, HORIZON_DAYS) == 300
    assert conn.execute(INDEXES).all() == before
    count = sa.text(
        "SELECT count(*) FROM sites s JOIN orgs o ON o.id = s.org_id WHERE o.code = 'synthetic'"
    )
    assert conn.scalar(count) == 300
    # The rebuilt indexes answer: a nearby-style KNN through the (geog, filter_keys) index.
    conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        r[0]
        for r in conn.execute(
            sa.text(
                "EXPLAIN SELECT id FROM sites WHERE deleted_at IS NULL AND status <> 'closed' "
                "ORDER BY geog <-> ST_MakePoint(121.47, 31.23)::geography LIMIT 5"
            )
        )
    )
    assert "sites_geog_keys_gist" in plan, plan


@pytest.mark.parametrize("bulk", [False, True])
def test_a_spatial_order_load_leaves_rows_in_geohash_order_and_indexes_as_they_were(
    conn, monkeypatch, bulk
):
    before = conn.execute(INDEXES).all()
    monkeypatch.setattr(synthetic, "BULK_ROWS", 100 if bulk else 10_000)
    assert synthetic.load(conn, 400, 5, FROZEN_NOW, HORIZON_DAYS, spatial_order=True) == 400
    assert conn.scalar(IN_ORDER) == 1
    assert conn.execute(INDEXES).all() == before  # the temporary geohash index is gone


def test_a_plain_load_keeps_the_order_rows_were_made_in(conn):
    synthetic.load(conn, 400, 5, FROZEN_NOW, HORIZON_DAYS)
    assert conn.scalar(IN_ORDER) < 0.7


def test_the_same_seed_gives_the_same_rows():
    patterns = {h: i for i, (h, _) in enumerate(synthetic.HOURS_MIX, 1)}
    first = list(synthetic.rows(50, 9, 1, patterns))
    assert first == list(synthetic.rows(50, 9, 1, patterns))
    assert first != list(synthetic.rows(50, 10, 1, patterns))
    assert len(set(first)) == 50


def test_the_copy_reader_hands_over_every_character_once():
    lines = [f"row {i}\t{'x' * (i % 7)}\n" for i in range(200)]
    for size in (1, 5, 64, 1 << 16):
        reader = synthetic._Reader(iter(lines))
        chunks = []
        while chunk := reader.read(size):
            assert len(chunk) <= size
            chunks.append(chunk)
        assert "".join(chunks) == "".join(lines)
    assert synthetic._Reader(iter(lines)).read() == "".join(lines)
