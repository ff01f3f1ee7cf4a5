"""Start ``python -m app bus serve`` as a subprocess on a free port, and talk to it with boto3."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import requests
from botocore.config import Config

from app.settings import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BusProcess:
    def __init__(self, tmp: Path, definition: Path, port: int | None = None):
        self.lake = tmp / "lake"
        self.definition = definition
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"serve-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 20.0) -> BusProcess:
        command = [
            sys.executable,
            "-m",
            "app",
            "bus",
            "serve",
            "--port",
            str(self.port),
            "--lake",
            str(self.lake),
            "--definition",
            str(self.definition),
        ]
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bus serve exited: {self.log.read_text()}")
            try:
                requests.get(self.url, timeout=0.5)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"bus serve did not start: {self.log.read_text()}")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, region: str = "us-east-1", key: str = "x"):
        """A boto3 client signing for ``region``; a 12-digit ``key`` is the account (else 123456789012)."""
        return boto3.client(
            "events",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key="x",
            config=Config(retries={"max_attempts": 1}),
        )


@contextmanager
def running_bus(tmp: Path, definition: Path):
    bus = BusProcess(tmp, definition).start()
    try:
        yield bus
    finally:
        bus.stop()


def write_definition(folder: Path, text: str = "bus: test-bus\nrules: []\n") -> Path:
    path = folder / "bus.yaml"
    path.write_text(text)
    return path


class Consumer:
    def __init__(self, status: int, delay_s: float):
        self.status, self.delay_s = status, delay_s
        self.bodies: list[dict] = []
        self.requests: list[tuple[str, dict[str, str]]] = []  # (method, headers) of each call
        self.url = ""


@contextmanager
def http_consumer(status: int, delay_s: float = 0.0):
    """A consumer on a free port answering every POST (or PUT) with ``status`` after ``delay_s``."""
    consumer = Consumer(status, delay_s)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            consumer.requests.append((self.command, dict(self.headers)))
            consumer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            time.sleep(consumer.delay_s)
            self.send_response(consumer.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PUT = do_POST  # an API destination's HttpMethod

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    consumer.url = f"http://127.0.0.1:{server.server_port}/events"
    try:
        yield consumer
    finally:
        server.shutdown()
        server.server_close()


def lake_ids(lake: Path) -> list[str]:
    """Every event id in the lake's raw events. A live bus's compaction may replace a file
    between the listing and its read (app/lake/compact.py): the lake is then read again."""
    while True:
        files = list((lake / "events").rglob("*.parquet"))
        try:
            return sorted(i for f in files for i in pq.read_table(f, columns=["id"]).column("id").to_pylist())
        except FileNotFoundError:
            continue


def dead_letters(tmp: Path, queue: str) -> list[dict]:
    path = tmp / "bus" / "dlq" / f"{queue}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(predicate, timeout_s: float = 20.0, every_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every_s)
