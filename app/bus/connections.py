"""Connections and API destinations made through the API, kept for ``bus serve``.

A *connection* holds how to authorize to an HTTP endpoint (Basic, an API key, or OAuth
client credentials) and an *API destination* an endpoint, its HTTP method and the
connection it uses — EventBridge's resources of those names
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html).
Both belong to one (account, region). They are kept in ``<state>/connections.json``,
written readable by its owner only, as it holds the connections' secrets (EventBridge keeps
them in Secrets Manager; the API never answers them).

:class:`EndpointView` is what a bus's HTTP targets resolve their endpoint name through:
the API destinations of the bus's account and region, then ``infra/bus.yaml``'s
``endpoints`` — so a destination made through the API is a rule target exactly like one of
bus.yaml, and a changed destination (URL, method, credentials) is used from the next
delivery on.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.bus.definition import Endpoint

Scope = tuple[str, str]  # (account, region)
FILE_NAME = "connections.json"


@dataclass
class Connection:
    account: str
    region: str
    name: str
    uuid: str
    authorization_type: str  # BASIC | API_KEY | OAUTH_CLIENT_CREDENTIALS
    auth: dict[str, Any]  # AuthParameters as given, secrets included (never answered)
    description: str = ""
    state: str = "AUTHORIZED"
    created: float = 0.0
    modified: float = 0.0
    authorized: float = 0.0

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:connection/{self.name}/{self.uuid}"

    @property
    def secret_arn(self) -> str:
        # Secrets Manager's form: the secret's name, then '-' and six characters.
        return (
            f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:"
            f"events!connection/{self.name}/{self.uuid}-{self.uuid[:6]}"
        )

    def headers(self) -> tuple[tuple[str, str], ...]:
        """The headers a delivery through this connection carries (its secrets included)."""
        out: list[tuple[str, str]] = []
        basic = self.auth.get("BasicAuthParameters") or {}
        key = self.auth.get("ApiKeyAuthParameters") or {}
        if self.authorization_type == "BASIC" and basic:
            token = base64.b64encode(f"{basic.get('Username', '')}:{basic.get('Password', '')}".encode())
            out.append(("Authorization", f"Basic {token.decode()}"))
        elif self.authorization_type == "API_KEY" and key:
            out.append((str(key.get("ApiKeyName", "")), str(key.get("ApiKeyValue", ""))))
        invocation = self.auth.get("InvocationHttpParameters") or {}
        out.extend(
            (str(h.get("Key", "")), str(h.get("Value", ""))) for h in invocation.get("HeaderParameters") or []
        )
        return tuple(out)


@dataclass
class ApiDestination:
    account: str
    region: str
    name: str
    uuid: str
    connection_arn: str
    endpoint: str
    method: str
    rate: int = 300
    description: str = ""
    created: float = 0.0
    modified: float = 0.0

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:api-destination/{self.name}/{self.uuid}"


@dataclass
class ConnectionStore:
    """Every connection and API destination, by (account, region, name)."""

    path: Path
    connections: dict[tuple[str, str, str], Connection] = field(default_factory=dict)
    destinations: dict[tuple[str, str, str], ApiDestination] = field(default_factory=dict)

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> ConnectionStore:
        store = cls(Path(state_dir) / FILE_NAME)
        if store.path.exists():
            raw = json.loads(store.path.read_text())
            for item in raw.get("connections", []):
                c = Connection(**item)
                store.connections[(c.account, c.region, c.name)] = c
            for item in raw.get("api_destinations", []):
                d = ApiDestination(**item)
                store.destinations[(d.account, d.region, d.name)] = d
        return store

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        text = json.dumps(
            {
                "connections": [asdict(c) for _, c in sorted(self.connections.items())],
                "api_destinations": [asdict(d) for _, d in sorted(self.destinations.items())],
            },
            indent=1,
        )
        # Owner-only from the first byte: the file holds the connections' secrets.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, self.path)

    def in_scope(self, table: Mapping[tuple[str, str, str], Any], scope: Scope) -> list[Any]:
        return [item for (a, r, _), item in sorted(table.items()) if (a, r) == scope]

    def connection_by_arn(self, arn: str) -> Connection | None:
        return next((c for c in self.connections.values() if c.arn == arn), None)

    def endpoint(self, scope: Scope, name: str) -> Endpoint | None:
        """An API destination of ``scope`` as an HTTP target's endpoint (None: there is none)."""
        destination = self.destinations.get((*scope, name))
        if destination is None:
            return None
        connection = self.connection_by_arn(destination.connection_arn)
        active = connection is not None and connection.state == "AUTHORIZED"
        return Endpoint(
            name,
            destination.endpoint,
            destination.description,
            method=destination.method,
            headers=connection.headers() if connection is not None else (),
            active=active,
        )


class EndpointView(Mapping[str, Endpoint]):
    """The endpoints a bus's HTTP targets can name: its account's and region's API
    destinations, then bus.yaml's ``endpoints`` (a name is unique across both)."""

    def __init__(self, store: ConnectionStore, scope: Scope, defined: Mapping[str, Endpoint]):
        self.store, self.scope, self.defined = store, scope, defined

    def __getitem__(self, name: str) -> Endpoint:
        endpoint = self.store.endpoint(self.scope, name)
        if endpoint is not None:
            return endpoint
        return self.defined[name]

    def __iter__(self) -> Iterator[str]:
        names = [d.name for d in self.store.in_scope(self.store.destinations, self.scope)]
        return iter(dict.fromkeys([*self.defined, *names]))

    def __len__(self) -> int:
        return sum(1 for _ in self)
