"""The `yizhan` command against the test database: orgs, users, tokens, import."""

import pytest
import sqlalchemy as sa

from tests import support

FIXTURES = support.FIXTURES


def test_token_lifecycle(yizhan, client, conn):
    made = yizhan("tokens", "create", "--org", "zj.zs.dh", "--role", "editor", "--user", "李工")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("yz_") and len(token) >= 46
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/orgs", headers=headers).status_code == 200
    used = conn.scalar(sa.text("SELECT last_used_at FROM api_tokens ORDER BY id DESC LIMIT 1"))
    assert used is not None

    listed = yizhan("tokens", "list", "--org", "zj.zs")
    assert "李工" in listed.output and token not in listed.output
    token_id = conn.scalar(sa.text("SELECT max(id) FROM api_tokens"))
    assert yizhan("tokens", "revoke", str(token_id)).exit_code == 0
    assert client.get("/v1/orgs", headers=headers).status_code == 401
    again = yizhan("tokens", "revoke", str(token_id))
    assert again.exit_code != 0 and "no active token" in again.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("orgs", "add", "Bad Code", "坏"), "not an org code"),
        (("orgs", "add", "zj.nowhere.x", "无"), "parent org zj.nowhere does not exist"),
        (("tokens", "create", "--org", "nope", "--role", "admin"), "no org nope"),
        (("users", "add", "--org", "zj", "--role", "owner", "x"), "Invalid value"),
    ],
)
def test_refusals_are_one_line_errors(yizhan, args, message):
    result = yizhan(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_import_dry_run_and_real(yizhan, conn):
    template = str(FIXTURES / "import_template.csv")
    dry = yizhan("import", template, "--org", "zj", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "3 created" in dry.output and "would be written" in dry.output
    assert conn.scalar(sa.text("SELECT count(*) FROM sites WHERE external_id LIKE 'EX-%'")) == 0
    real = yizhan("import", template, "--org", "zj")
    assert "3 created" in real.output
    assert conn.scalar(sa.text("SELECT count(*) FROM sites WHERE external_id LIKE 'EX-%'")) == 3
    rejected = yizhan("import", template, "--org", "zj.nb")
    assert rejected.exit_code != 0 and "nothing written" in rejected.output
