"""``bus serve`` as if the network were hostile: raw sockets send what boto3 never would.
Each malformed request gets a 4xx in EventBridge's error shape with no Python text, and the
server keeps serving (the request after it succeeds)."""

import json
import socket
import time

import pytest
import requests

from app.bus import server as bus_server
from tests.bus.server_helpers import running_bus, write_definition

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bus-server")]

TARGET = "AWSEvents.ListRules"


def raw(port: int, head: str, body: bytes = b"", read_s: float = 10.0) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=read_s) as conn:
        conn.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1] or b"{}")


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def request_head(length: str, target: str = TARGET) -> str:
    return (
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
        f"X-Amz-Target: {target}\r\nContent-Length: {length}\r\nConnection: close\r\n"
    )


@pytest.mark.parametrize(
    ("length", "body", "says"),
    [
        pytest.param("-1", b"{}" * 1000, "Content-Length must be a whole number", id="negative-length"),
        pytest.param("abc", b"{}", "Content-Length must be a whole number", id="text-length"),
        pytest.param(str(5 * 1024 * 1024), b"{}", "too large", id="over-the-cap"),
        pytest.param("4", b"[1]]", "not valid JSON", id="bad-json"),
        pytest.param("3", b"[1]", "must be a JSON object", id="not-an-object"),
        pytest.param(str(200_000), b"[" * 100_000 + b"]" * 100_000, "not valid JSON", id="deep-nesting"),
    ],
)
def test_a_malformed_request_is_a_4xx_without_python_text(tmp_path, length, body, says):
    with running_bus(tmp_path, write_definition(tmp_path)) as bus:
        status, answer = raw(bus.port, request_head(length), body)
        assert 400 <= status < 500 and answer["__type"] == "SerializationException"
        assert says in answer["message"] and "Traceback" not in answer["message"]
        assert "Rules" in bus.client().list_rules()  # still serving


def test_an_idle_connection_is_closed_and_a_flood_of_connections_costs_no_threads(tmp_path, monkeypatch):
    with running_bus(tmp_path, write_definition(tmp_path)) as bus:
        idle = [socket.create_connection(("127.0.0.1", bus.port)) for _ in range(bus_server.MAX_WORKERS + 8)]
        try:
            # The workers are all held by idle sockets: one more connection is refused at once.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                answer = requests.post(
                    bus.url,
                    headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"},
                    data=b"{}",
                    timeout=10,
                )
                if answer.json().get("__type") == "ThrottlingException":
                    break
            assert answer.status_code == 400 and answer.json()["__type"] == "ThrottlingException"
        finally:
            for conn in idle:
                conn.close()
        assert "Rules" in bus.client().list_rules()  # the slots came back
