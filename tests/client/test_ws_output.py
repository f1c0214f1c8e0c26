"""The people's command line: its identity settings and how it prints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from client.http import Connection, UsageError
from client.output import countdown, table, workspace_rows

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expires_at", "shown"),
    [
        (None, "-"),
        ("2026-12-02T11:59:59.000Z", "expired"),
        ("2026-12-02T12:00:42.000Z", "in 0m 42s"),
        ("2026-12-02T14:05:00.000Z", "in 2h 05m"),
        ("2026-12-05T13:00:00.000Z", "in 3d 01h"),
    ],
)
def test_countdown(expires_at: str | None, shown: str) -> None:
    assert countdown(expires_at, NOW) == shown


def test_a_table_lines_up_its_columns() -> None:
    text = table([("a", "running"), ("longer-name", "stopped")], ("NAME", "STATUS"))

    lines = text.splitlines()
    assert lines[0] == "NAME         STATUS"
    assert lines[2] == "longer-name  stopped"
    assert {line.index(line.split()[1]) for line in lines} == {13}


def test_workspace_rows_fit_a_terminal() -> None:
    workspace = {
        "name": "n" * 40,
        "status": "restarting",
        "template": "python",
        "expires_at": None,
        "id": "0b5c2b0e-93a2-4a53-9a33-6c1a1e1b7e42",
    }
    rows = workspace_rows([workspace])

    assert rows == [("n" * 40, "restarting", "python", "-", "0b5c2b0e")]
    assert max(len(line) for line in table(rows, ("A", "B", "C", "D", "E")).splitlines()) <= 80


def test_identity_comes_from_the_environment() -> None:
    connection = Connection.from_env(
        {
            "VM_API_URL": "http://example.test:8080/",
            "VM_API_USER": "alice",
            "VM_API_TOKEN": "t0k",
            "VM_API_HEADER": "Cookie: _oauth2_proxy=abc",
        }
    )

    assert connection.url == "http://example.test:8080"
    assert connection.headers == {
        "x-user": "alice",
        "Authorization": "Bearer t0k",
        "Cookie": "_oauth2_proxy=abc",
    }
    assert Connection.from_env({}).url == "http://127.0.0.1:3121"
    with pytest.raises(UsageError):
        Connection.from_env({"VM_API_HEADER": "no colon"})
