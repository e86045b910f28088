"""Create the database named in DATABASE_URL (if missing) and its extensions. Idempotent."""

import os
import sys

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT, parse_dsn

from service.core.settings import DEFAULT_DATABASE_URL

EXTENSIONS = ("postgis", "pg_trgm", "btree_gist", "ltree", "intarray")


def main() -> int:
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    dsn = parse_dsn(url)
    name = dsn.get("dbname", "yizhan")
    try:
        admin = psycopg2.connect(**{**dsn, "dbname": "postgres"})
    except psycopg2.OperationalError as exc:
        print(f"ensure_db: cannot connect to PostgreSQL for {name}: {exc}".strip(), file=sys.stderr)
        print(
            "ensure_db: set DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/DB", file=sys.stderr
        )
        return 1
    admin.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(
                sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(name)
                )
            )
            print(f"ensure_db: created database {name}")
    admin.close()
    conn = psycopg2.connect(url)
    conn.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
    with conn.cursor() as cur:
        for ext in EXTENSIONS:
            try:
                cur.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext))
                )
            except psycopg2.Error as exc:
                print(
                    f"ensure_db: extension {ext} unavailable: {exc.pgerror or exc}".strip(),
                    file=sys.stderr,
                )
                print(
                    "ensure_db: install PostGIS for this server, e.g. "
                    "apt-get install postgresql-15-postgis-3",
                    file=sys.stderr,
                )
                return 1
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
