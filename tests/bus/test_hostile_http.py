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
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
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


def answers(port: int, data: bytes, read_s: float = 5.0) -> list[bytes]:
    """Every response the server sends on one connection for ``data``, until it closes it
    or stays silent."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_s) as conn:
        conn.sendall(data)
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received.split(b"HTTP/1.1 ")[1:]


SMUGGLED = json.dumps({"Name": "smuggled", "EventPattern": json.dumps({"source": ["x"]})})
INNER = (
    "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
    f"X-Amz-Target: AWSEvents.PutRule\r\nContent-Length: {len(SMUGGLED)}\r\n\r\n{SMUGGLED}"
)


@pytest.mark.parametrize(
    "outer",
    [
        # What a web page can send cross-site unasked: a plain-text POST, its body a request.
        pytest.param(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(INNER)}\r\n\r\n{INNER}",
            id="plain-text-post-without-a-target",
        ),
        pytest.param(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
            f"X-Amz-Target: Events.PutEvents\r\nContent-Length: {len(INNER)}\r\n\r\n{INNER}",
            id="a-wrong-target",
        ),
        pytest.param(
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: {TARGET}\r\n\r\n{INNER}",
            id="no-content-length",
        ),
        pytest.param(
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: {TARGET}\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n{len(INNER):x}\r\n{INNER}\r\n0\r\n\r\n",
            id="chunked",
        ),
        pytest.param(
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: {TARGET}\r\n"
            f"Content-Length: 2\r\nContent-Length: {len(INNER) + 2}\r\n\r\n{{}}{INNER}",
            id="two-content-lengths",
        ),
    ],
)
def test_a_request_inside_a_refused_one_is_never_run(tmp_path, outer):
    with running_bus(tmp_path, write_definition(tmp_path)) as bus:
        got = answers(bus.port, outer.encode())
        assert len(got) == 1 and got[0].startswith(b"400") and b"SerializationException" in got[0]
        assert "smuggled" not in [r["Name"] for r in bus.client().list_rules()["Rules"]]


@pytest.mark.parametrize(
    ("header", "says"),
    [
        pytest.param("Host: evil.example:4010", "is not this machine", id="dns-rebinding"),
        pytest.param("Content-Type: text/plain", "Content-Type must be", id="a-form-or-text-post"),
    ],
)
def test_a_page_of_another_site_is_refused(tmp_path, header, says):
    name = header.split(":")[0]
    with running_bus(tmp_path, write_definition(tmp_path)) as bus:
        head = request_head(str(len(SMUGGLED)), "AWSEvents.PutRule")
        head = "\r\n".join(line for line in head.split("\r\n") if not line.startswith(name + ":"))
        status, answer = raw(bus.port, head + header + "\r\n", SMUGGLED.encode())
        assert status == 400 and says in answer["message"]
        assert "smuggled" not in [r["Name"] for r in bus.client().list_rules()["Rules"]]
        # What boto3 sends is still served, by the names of this machine.
        for host in ("127.0.0.1", "localhost:4010", "[::1]:4010"):
            head = request_head("2").replace("Host: 127.0.0.1", f"Host: {host}")
            assert raw(bus.port, head, b"{}")[0] == 200


@pytest.mark.parametrize(
    ("head", "status"),
    [
        pytest.param("OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\n", 501, id="another-method"),
        pytest.param(
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: {'a' * 70_000}\r\n", 431, id="a-huge-header"
        ),
    ],
)
def test_what_http_server_refuses_itself_is_answered_in_eventbridge_s_shape(tmp_path, head, status):
    with running_bus(tmp_path, write_definition(tmp_path)) as bus:
        got, answer = raw(bus.port, head)  # an HTML page before: json.loads failed here
        assert got == status and answer["__type"] in ("UnknownOperationException", "SerializationException")
        assert "<" not in answer["message"]
        assert "Rules" in bus.client().list_rules()
