"""``bus serve`` as if the network were hostile: raw sockets send what boto3 never would.
Each malformed request gets a 4xx in EventBridge's error shape with no Python text, and the
server keeps serving (the request after it succeeds)."""

import contextlib
import json
import socket
import threading
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


@contextlib.contextmanager
def serving_in_process(tmp_path):
    """``bus serve``'s HTTP server in this process (so a test can shorten its deadline)."""
    config = bus_server.ServerConfig(lake=tmp_path / "lake", definition=write_definition(tmp_path))
    service = bus_server.BusService(config)
    server = bus_server.BoundedHTTPServer(("127.0.0.1", 0), bus_server.handler_for(service))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        service.journal.close()


def trickle(port: int, head: bytes, data: bytes, every_s: float, for_s: float) -> tuple[float, bytes]:
    """Send ``head`` at once, then ``data`` a byte every ``every_s`` (Slowloris) until the
    server closes the connection or ``for_s`` pass: how long the server kept it, and what
    it answered."""
    started = time.monotonic()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=every_s) as conn:
        conn.sendall(head)
        for byte in data:
            if time.monotonic() - started > for_s:
                break
            try:
                conn.sendall(bytes([byte]))
                received += conn.recv(65536)  # nothing comes while the request is unfinished
                break  # an answer, or b"": closed
            except TimeoutError:
                continue
            except OSError:  # reset: closed
                break
    return time.monotonic() - started, received


GOOD = request_head("2").replace("Connection: close\r\n", "") + "\r\n{}"
SLOW_BODY = (request_head("201").replace("Connection: close\r\n", "") + "\r\n").encode()


@pytest.mark.parametrize(
    ("head", "data", "answer"),
    [
        pytest.param(b"POST / HTTP/1.1\r\n", GOOD.encode()[17:], b"", id="headers-a-byte-at-a-time"),
        pytest.param(SLOW_BODY, b"{" + b" " * 200, b"did not arrive in time", id="body-a-byte-at-a-time"),
    ],
)
def test_a_request_trickled_a_byte_at_a_time_loses_its_worker_at_the_deadline(
    tmp_path, monkeypatch, head, data, answer
):
    """Each byte comes well within the idle timeout, but the request as a whole must arrive
    within REQUEST_DEADLINE_S of its first byte: then the server closes the connection
    (a late body gets one sentence first)."""
    monkeypatch.setattr(bus_server, "REQUEST_DEADLINE_S", 1.5)
    with serving_in_process(tmp_path) as port:
        kept, got = trickle(port, head, data, every_s=0.25, for_s=15)
        assert 1.5 <= kept < 5, kept  # closed at the deadline, long before the idle timeout
        assert answer in got if answer else got == b"", got
        status, _ = raw(port, request_head("2"), b"{}")  # and the server still serves
        assert status == 200


def test_a_keep_alive_connection_waits_the_idle_timeout_not_the_deadline_between_requests(
    tmp_path, monkeypatch
):
    """The deadline runs from a request's first byte: a connection quiet between requests
    for longer than it is not closed."""
    monkeypatch.setattr(bus_server, "REQUEST_DEADLINE_S", 1.0)
    with (
        serving_in_process(tmp_path) as port,
        socket.create_connection(("127.0.0.1", port), timeout=5) as conn,
    ):
        for _ in range(2):
            conn.sendall(GOOD.encode())
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(1.5)  # quiet for longer than the deadline


def test_a_request_whose_first_bytes_came_with_the_previous_one_has_the_same_deadline(tmp_path, monkeypatch):
    """The start of a second request sent right behind a whole one (pipelined, then left
    unfinished) is already buffered when the first is answered: its deadline runs from
    then, not from a read after the idle timeout."""
    monkeypatch.setattr(bus_server, "REQUEST_DEADLINE_S", 1.0)
    with serving_in_process(tmp_path) as port:
        conn = socket.create_connection(("127.0.0.1", port), timeout=15)
        with conn:
            started = time.monotonic()
            conn.sendall(GOOD.encode() + b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
            kept = time.monotonic() - started
        assert received.startswith(b"HTTP/1.1 200") and received.count(b"HTTP/1.1 ") == 1
        assert 1.0 <= kept < 5, kept  # closed at the deadline, not after the 30 s idle timeout


def test_an_answer_is_written_with_the_idle_timeout_not_what_is_left_of_the_deadline():
    """A request read near its deadline leaves the socket a timeout of milliseconds; the
    answer to a slow reader must not be cut by it."""
    server_side, client_side = socket.socketpair()
    with server_side, client_side:
        server_side.settimeout(30.0)
        reader = bus_server.DeadlineReader(server_side)
        client_side.sendall(b"ab")
        buffer = bytearray(1)
        assert reader.readinto(buffer) == 1  # the request's first byte: its deadline starts
        assert reader.readinto(buffer) == 1  # a later read: what is left of the deadline
        assert server_side.gettimeout() <= bus_server.REQUEST_DEADLINE_S
        reader.answering()
        assert server_side.gettimeout() == 30.0


def test_an_answer_is_written_with_the_idle_timeout_by_the_handler(tmp_path, monkeypatch):
    """Every answer the handler writes (a success, a refusal) goes through ``answering``."""
    answered = []
    monkeypatch.setattr(bus_server.DeadlineReader, "answering", lambda self: answered.append(1))
    with serving_in_process(tmp_path) as port:
        assert raw(port, request_head("2"), b"{}")[0] == 200
        assert raw(port, request_head("abc"), b"{}")[0] == 400
    assert len(answered) == 2


def test_expect_100_continue_is_answered_before_the_body(tmp_path, monkeypatch):
    """A client that waits for ``100 Continue`` gets it at once (the writes are buffered:
    it used to come only with the final answer, after the client had given up waiting)."""
    monkeypatch.setattr(bus_server, "REQUEST_DEADLINE_S", 5.0)
    head = GOOD.replace("Content-Length: 2\r\n", "Content-Length: 2\r\nExpect: 100-continue\r\n")
    head, body = head.encode()[:-2], head.encode()[-2:]
    with (
        serving_in_process(tmp_path) as port,
        socket.create_connection(("127.0.0.1", port), timeout=3) as conn,
    ):
        conn.sendall(head)
        assert conn.recv(65536).startswith(b"HTTP/1.1 100 Continue")
        conn.sendall(body)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")
