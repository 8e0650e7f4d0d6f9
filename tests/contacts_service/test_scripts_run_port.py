"""scripts/run refuses a taken port before it prints a key, and takes a port runserver can bind: one
left in TIME_WAIT by a server just stopped (runserver binds with SO_REUSEADDR)."""

import re
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = (Path(__file__).parents[2] / "scripts" / "run").read_text()
CHECK = re.search(r'-c "(import socket.*?)" "\$PORT"', SCRIPT).group(1)


def _check(port: int) -> int:
    return subprocess.run([sys.executable, "-c", CHECK, str(port)], capture_output=True).returncode


def test_a_port_in_time_wait_is_free_as_runserver_sees_it():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.listen()
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()  # the server closes first, as runserver does: the port stays in TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    assert _check(port) == 0


def test_a_listening_port_is_refused():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        assert _check(server.getsockname()[1]) != 0
    finally:
        server.close()
