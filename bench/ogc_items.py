"""OGC API items timings, in-process, on the big synthetic database (yizhan_bench).

    .venv/bin/python bench/ogc_items.py

Needs yizhan_bench at the latest migration with the synthetic sites (`make bench` loads
them). Each request runs 20 times through Flask's test client; prints a Markdown table.
"""

import statistics
import time

from service import create_app

app = create_app(
    {"DATABASE_URL": "postgresql://postgres@127.0.0.1/yizhan_bench", "ANON_PER_MINUTE": 0}
)
c = app.test_client()
ITEMS = "/ogc/collections/sites/items"
cases = {
    "items limit=10": ITEMS,
    "items bbox 0.1° Shanghai limit=250": f"{ITEMS}?bbox=121.42,31.18,121.52,31.28&limit=250",
    "items bbox 1° Shanghai limit=1000": f"{ITEMS}?bbox=121,30.7,122,31.7&limit=1000",
    "items nearest Shanghai limit=20": f"{ITEMS}?nearest=121.47,31.23&limit=20",
    "item by id": f"{ITEMS}/500000",
    "collection (extent)": "/ogc/collections/sites",
}
print("| request | status | median ms | max ms |\n|---|---|---:|---:|")
for name, url in cases.items():
    c.get(url)
    ts = []
    for _ in range(20):
        t = time.perf_counter()
        r = c.get(url)
        ts.append((time.perf_counter() - t) * 1000)
    print(f"| {name} | {r.status_code} | {statistics.median(ts):.1f} | {max(ts):.1f} |")
