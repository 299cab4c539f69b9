"""tests/loopback.py: the one launcher of loopback servers (unit tests, e2e and the benchmark)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.loopback import LOOPBACK, LoopbackServer, RedisServer, ServerError, program


class Shell(LoopbackServer):
    """A shell command as a server that never answers (``ready`` is always false)."""

    name = "shell"

    def __init__(self, script: str, timeout: float = 10) -> None:
        self.script = script
        super().__init__(timeout=timeout)

    def command(self) -> list[str]:
        return ["/bin/sh", "-c", self.script]

    def ready(self) -> bool:
        return False


def refused(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_redis_starts_answers_stops_and_restarts_on_its_port(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    with server:
        assert server.ping()
        assert server.url(3) == f"redis://127.0.0.1:{server.port}/3"
        assert server.version().count(".") == 2
        port = server.port
        server.stop()
        assert server.process is None
        assert refused(port)
        server.start()
        assert server.port == port
        assert server.ping()
    assert refused(port)
    # A directory given by the caller stays (its owner removes it); the log is in it.
    assert (tmp_path / "redis-server.log").exists()


def test_a_temporary_directory_is_removed_on_stop() -> None:
    with RedisServer() as server:
        workdir = server.workdir
        assert workdir.is_dir()
    assert not workdir.exists()


def test_a_server_that_exits_fails_with_its_status_and_log() -> None:
    server = Shell("echo boom; exit 3")
    with pytest.raises(ServerError, match=r"(?s)shell exited with status 3:.*boom"):
        server.start()
    assert server.process is None
    assert not server.workdir.exists()


def test_a_server_that_never_answers_is_stopped_after_the_timeout() -> None:
    server = Shell("echo waiting; exec sleep 60", timeout=1)
    with pytest.raises(ServerError, match=r"(?s)shell on 127.0.0.1:\d+ not ready after 1 s.*waiting"):
        server.start()
    assert server.process is None


def test_a_missing_program_says_how_to_install_it() -> None:
    with pytest.raises(ServerError, match=r"no-such-server-xyz not found: run `python tests/provision.py e2e`"):
        program("no-such-server-xyz", "/nonexistent/*/bin/no-such-server-xyz")
    assert program("/bin/s[h]") == "/bin/sh"
