"""``python -m app bus …``: serve the local bus's API, publish the live demo, run the demo consumer.

* ``bus serve [--host 127.0.0.1] [--port 4010] [--lake PATH]`` — EventBridge's API.
* ``bus publish --endpoint URL [--lake PATH] [--rate N]`` — the simulated enterprise
  publishes the current minutes through boto3 ``put_events`` (batches of ≤ 10).
* ``bus consumer [--port 4020]`` — the HTTP consumers named under ``endpoints`` in
  infra/bus.yaml; each answers 503 while the simulation has it down, else 200.
* ``bus redrive --queue Q [--message-id ID …] [--lake PATH]`` — dead letters delivered again
  to the rule target that failed them; those delivered are deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import time
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

from app import clock
from app.cli.common import CliError, lake_argument, port_number, positive_float, positive_int, resolve_lake

PUT_EVENTS_BATCH = 10  # PutEvents' entry limit


def _exit_on_sigterm() -> None:
    # SIGTERM unwinds like Ctrl-C, so the server flushes metrics and closes the journal.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def cmd_bus_serve(args: argparse.Namespace) -> int:
    from app.bus.server import ServerConfig, serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    _exit_on_sigterm()
    config = ServerConfig(
        lake=resolve_lake(args),
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
        definition=args.definition,
        put_events_tps=args.put_events_tps,
    )
    with contextlib.suppress(KeyboardInterrupt):
        serve(config)
    return 0


def cmd_bus_redrive(args: argparse.Namespace) -> int:
    from app.bus.dead_letter_source import LocalDeadLetters
    from app.bus.definition import load_definition

    definition = load_definition(args.definition) if args.definition else None
    letters = LocalDeadLetters.for_lake(resolve_lake(args), definition, state_dir=args.state_dir)
    try:
        ids = args.message_id or [m.message_id for m in letters.peek(args.queue)]
        result = letters.redrive(args.queue, ids)
    except ValueError as exc:  # a queue name that is none, or none of the bus's
        raise CliError(str(exc)) from None
    print(
        f"{args.queue}: {len(result.sent)} delivered again and deleted, {len(result.failed)} still failing, "
        f"{len(result.missing)} not found"
    )
    for message_id, why in sorted(result.failed.items()):
        print(f"  {message_id}: {why}")
    return 0 if not result.failed and not result.missing else 1


# -- the live publisher ----------------------------------------------------------------------


def to_entry(event: dict, bus: str) -> dict:
    """A simulated envelope as a PutEvents request entry for ``bus`` (the definition's bus: a
    custom bus, beside the account's default bus)."""
    return {
        "EventBusName": bus,
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Time": event["time"],
        "Detail": json.dumps(event["detail"], separators=(",", ":")),
        "Resources": list(event.get("resources") or []),
    }


def batches(items: list, size: int = PUT_EVENTS_BATCH) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def events_client(endpoint: str):
    import boto3

    return boto3.client(
        "events",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def live_enterprise(rate: int, seed: int, today: date):
    from app.demo.enterprise import DemoConfig, Enterprise

    return Enterprise(DemoConfig(days=2, events_per_day=rate, seed=seed, end=today))


def seeded_enterprise(lake: Path):
    """The simulation the lake was seeded with, so live events continue its history: the
    same campaigns, outages and in-flight orders (the simulation runs on past its end).
    None when the lake was not seeded by `demo seed`."""
    from app.demo.enterprise import DemoConfig, Enterprise

    try:
        truth = json.loads((Path(lake).parent / "ground_truth.json").read_text())
        config = DemoConfig(
            days=int(truth["days"]),
            events_per_day=int(truth["events_per_day"]),
            seed=int(truth["seed"]),
            end=date.fromisoformat(str(truth["end"])[:10]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Enterprise(config)


def cmd_bus_publish(args: argparse.Namespace) -> int:
    _exit_on_sigterm()
    from app.bus.definition import load_definition

    client = events_client(args.endpoint)
    bus = load_definition().bus
    since, began = clock.now().replace(microsecond=0), time.monotonic()  # then on by the time elapsed
    seeded = seeded_enterprise(resolve_lake(args))
    start = since
    enterprise, day = seeded or live_enterprise(args.rate, args.seed, since.date()), since.date()
    scale = (
        f"{seeded.config.events_per_day:,} events/day, continuing the seeded history"
        if seeded
        else f"~{args.rate:,} events/day"
    )
    print(f"publishing the simulated enterprise to {args.endpoint} ({scale})", flush=True)
    try:
        while True:
            time.sleep(args.tick)
            until = (start + timedelta(seconds=time.monotonic() - began)).replace(microsecond=0)
            if not seeded and until.date() != day:  # unseeded: the simulation is built per window of days
                enterprise, day = live_enterprise(args.rate, args.seed, until.date()), until.date()
            sent, failed = publish_window(client, enterprise.events_between(since, until), bus)
            since = until
            if failed:
                print(f"{failed} of {sent} entries were refused", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        return 0


def publish_window(client, events: list[dict], bus: str) -> tuple[int, int]:
    failed = 0
    for batch in batches([to_entry(e, bus) for e in events]):
        failed += client.put_events(Entries=batch)["FailedEntryCount"]
    return len(events), failed


# -- the demo consumer -----------------------------------------------------------------------


def consumer_status(enterprise, consumer: str | None, now: datetime) -> int:
    if consumer is None:
        return 404
    return 503 if enterprise.consumer_is_down(consumer, now) else 200


def cmd_bus_consumer(args: argparse.Namespace) -> int:
    from app.bus.definition import load_definition

    _exit_on_sigterm()
    today = clock.today()
    enterprise = seeded_enterprise(resolve_lake(args)) or live_enterprise(
        args.rate, args.seed, today + timedelta(days=1)
    )
    consumer_of_path = {urlparse(e.url).path: name for name, e in load_definition().endpoints.items()}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = consumer_status(enterprise, consumer_of_path.get(self.path), clock.now())
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args) -> None:
            pass

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"demo consumers {sorted(consumer_of_path.values())} on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def add_bus_commands(commands: argparse._SubParsersAction) -> None:
    bus = commands.add_parser("bus", help="the local event bus").add_subparsers(
        dest="bus_command", required=True
    )
    serve = bus.add_parser("serve", help="serve EventBridge's API over the local bus")
    lake_argument(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port_number, default=4010)
    serve.add_argument(
        "--state-dir", type=_path, default=None, help="journal, API rules and DLQs (default: <lake>/../bus)"
    )
    serve.add_argument(
        "--definition", type=_path, default=None, help="bus definition (default: infra/bus.yaml)"
    )
    serve.add_argument(
        "--put-events-tps",
        type=positive_float,
        default=10_000.0,
        help="PutEvents requests a second before ThrottlingException (EventBridge's quota: 10000)",
    )
    serve.set_defaults(handler=cmd_bus_serve)

    redrive = bus.add_parser("redrive", help="deliver dead letters again to the rule target that failed them")
    lake_argument(redrive)
    redrive.add_argument("--queue", required=True, help="dead-letter queue name, e.g. crm-webhook-dlq")
    redrive.add_argument("--message-id", action="append", help="a message to redrive (repeat; default: all)")
    redrive.add_argument(
        "--state-dir", type=_path, default=None, help="the bus's state folder (default: <lake>/../bus)"
    )
    redrive.add_argument(
        "--definition", type=_path, default=None, help="bus definition (default: infra/bus.yaml)"
    )
    redrive.set_defaults(handler=cmd_bus_redrive)

    publish = bus.add_parser("publish", help="publish the simulated enterprise live through the bus API")
    lake_argument(publish)
    publish.add_argument("--endpoint", required=True, help="bus API URL, e.g. http://127.0.0.1:4010")
    publish.add_argument("--rate", type=positive_int, default=12_000, help="simulated events per day")
    publish.add_argument("--seed", type=int, default=7)
    publish.add_argument("--tick", type=positive_float, default=5.0, help="seconds between publishes")
    publish.set_defaults(handler=cmd_bus_publish)

    consumer = bus.add_parser(
        "consumer", help="the demo's HTTP consumers (503 while the simulation has them down)"
    )
    lake_argument(consumer)
    consumer.add_argument("--host", default="127.0.0.1")
    consumer.add_argument("--port", type=port_number, default=4020)
    consumer.add_argument("--rate", type=positive_int, default=12_000)
    consumer.add_argument("--seed", type=int, default=7)
    consumer.set_defaults(handler=cmd_bus_consumer)


def _path(text: str) -> Path:
    return Path(text).resolve()
