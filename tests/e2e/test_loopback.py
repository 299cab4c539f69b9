"""tests/loopback.py's PostgreSQL launcher (here: the end-to-end environment installs PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.loopback import PostgresServer, ServerError


def test_postgres_starts_creates_a_database_and_stops() -> None:
    with PostgresServer() as server:
        assert server.ready()
        assert server.version().split(".")[0].isdigit()
        assert server.create_database("loopback_check") == f"postgres://postgres@127.0.0.1:{server.port}/loopback_check"
        with pytest.raises(ServerError, match="createdb loopback_check failed"):
            server.create_database("loopback_check")
        root = server.root
    assert not server.ready()
    assert not root.exists()
