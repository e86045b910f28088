"""The console's history (field by field, undo of one change) and rider reports pages."""

import sqlalchemy as sa

from tests.console.test_accounts import account, csrf, log_in  # noqa: F401
from tests.console.test_site_pages import clerk, form, post  # noqa: F401


def new_site(client) -> int:
    r = post(client, "/admin/sites/new", form())
    return int(r.headers["Location"].split("/")[-1].split("?")[0])


def test_history_shows_who_changed_what_and_undo_writes_it_back(client, conn, clerk):  # noqa: F811
    site_id = new_site(client)
    page = client.get(f"/admin/sites/{site_id}").get_data(as_text=True)
    assert 'name="version" value="1"' in page
    changed = form(name="改过的名字", version="1", pair="", lat="29.87", lon="121.55",
                   phone="0580-1234567")  # fmt: skip
    assert post(client, f"/admin/sites/{site_id}", changed).status_code == 302
    history = client.get(f"/admin/sites/{site_id}/history").get_data(as_text=True)
    assert "改过的名字" in history and "控制台新建驿站" in history and clerk in history
    assert "0580-1234567" in history and "第 2 版" in history
    entry = conn.scalar(
        sa.text("SELECT id FROM site_audit WHERE site_id = :i AND version = 2"), {"i": site_id}
    )
    token = csrf(client, f"/admin/sites/{site_id}/history")
    r = client.post(f"/admin/sites/{site_id}/history/{entry}/undo", data={"csrf_token": token})
    assert r.status_code == 302
    row = conn.execute(
        sa.text("SELECT name, phone, version FROM sites WHERE id = :i"), {"i": site_id}
    ).one()
    assert tuple(row) == ("控制台新建驿站", None, 3)  # written back, as a new version
    last = conn.execute(
        sa.text(
            "SELECT a.action, u.name FROM site_audit a JOIN users u ON u.id = a.user_id "
            "WHERE a.site_id = :i ORDER BY a.id DESC LIMIT 1"
        ),
        {"i": site_id},
    ).one()
    assert tuple(last) == ("update", clerk)


def test_an_undo_outside_the_subtree_or_without_csrf_is_refused(client, conn, clerk, make_site):  # noqa: F811
    other = make_site(30.2, 120.1, org="zj.hz")
    token = csrf(client, "/admin/sites")
    assert client.get(f"/admin/sites/{other}/history").status_code == 404
    assert (
        client.post(f"/admin/sites/{other}/history/1/undo", data={"csrf_token": token}).status_code
        == 404
    )
    mine = new_site(client)
    assert client.post(f"/admin/sites/{mine}/history/1/undo").status_code == 400  # no token


def test_reports_of_the_subtree_are_triaged_with_a_note(client, conn, clerk, make_site):  # noqa: F811
    site_id = make_site(29.9, 121.6, org="zj.nb", name="有反馈的驿站")
    elsewhere = make_site(30.2, 120.1, org="zj.hz", name="别处的驿站")
    for sid, comment in ((site_id, "微波炉坏了 <b>急</b>"), (elsewhere, "别处的反馈")):
        conn.execute(
            sa.text(
                "INSERT INTO reports (site_id, category, comment, created_at) "
                "VALUES (:s, 'amenity_missing', :c, now())"
            ),
            {"s": sid, "c": comment},
        )
    page = client.get("/admin/reports").get_data(as_text=True)
    assert "有反馈的驿站" in page and "别处的反馈" not in page
    assert "&lt;b&gt;急&lt;/b&gt;" in page  # escaped
    report = conn.scalar(sa.text("SELECT id FROM reports WHERE site_id = :s"), {"s": site_id})
    other = conn.scalar(sa.text("SELECT id FROM reports WHERE site_id = :s"), {"s": elsewhere})
    token = csrf(client, "/admin/reports")
    r = client.post(f"/admin/reports/{report}",
                    data={"csrf_token": token, "status": "resolved", "note": "已换新"})  # fmt: skip
    assert r.status_code == 302
    row = conn.execute(
        sa.text("SELECT status, note, resolved_by IS NOT NULL AS by FROM reports WHERE id = :i"),
        {"i": report},
    ).one()
    assert tuple(row) == ("resolved", "已换新", True)
    refused = client.post(
        f"/admin/reports/{other}", data={"csrf_token": token, "status": "rejected"}
    )
    assert refused.status_code == 404
    assert conn.scalar(sa.text("SELECT status FROM reports WHERE id = :i"), {"i": other}) == "open"
