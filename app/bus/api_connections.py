"""EventBridge's connection and API destination operations (docs/bus-api.md, "Connections
and API destinations").

CreateConnection, DescribeConnection, ListConnections, UpdateConnection, DeleteConnection,
DeauthorizeConnection, CreateApiDestination, DescribeApiDestination, ListApiDestinations,
UpdateApiDestination and DeleteApiDestination take and return the API reference's shapes;
messages are the ones localstack's AWS-validated snapshots recorded where they recorded one.
A connection's secrets (password, API key value, client secret, secret parameter values)
are kept for deliveries and never answered.

``infra/bus.yaml``'s ``endpoints`` are API destinations of the server's own account and
region: listed and described (ARN ``api-destination/NAME``, no connection), read-only.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app import clock
from app.bus.api import _page, _required
from app.bus.api_archive import ResourceAlreadyExistsException
from app.bus.connections import ApiDestination, Connection, ConnectionStore, Scope
from app.bus.definition import MAX_DESCRIPTION, ResourceNotFoundException
from app.events import ValidationException, is_text

if TYPE_CHECKING:
    from app.bus.api_buses import EventsApi

NAME = re.compile(r"^[\.\-_A-Za-z0-9]{1,64}\Z")
NAME_RULE = r"Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+"
AUTH_TYPES = ("BASIC", "OAUTH_CLIENT_CREDENTIALS", "API_KEY")
HTTP_METHODS = ("HEAD", "POST", "PATCH", "DELETE", "PUT", "GET", "OPTIONS")
CONNECTION_STATES = (
    "CREATING",
    "UPDATING",
    "DELETING",
    "AUTHORIZED",
    "DEAUTHORIZED",
    "AUTHORIZING",
    "DEAUTHORIZING",
)
CONNECTION_ARN = re.compile(
    r"^arn:aws([a-z]|\-)*:events:([a-z]|\d|\-)*:([0-9]{12})?:connection\/[\.\-_A-Za-z0-9]+\/[\-A-Za-z0-9]+$"
)
CONNECTION_ARN_RULE = "Member must satisfy regular expression pattern: " + CONNECTION_ARN.pattern
# Which AuthParameters member each authorization type needs, and its secret fields.
AUTH_MEMBER = {
    "BASIC": ("BasicAuthParameters", ("Username", "Password")),
    "API_KEY": ("ApiKeyAuthParameters", ("ApiKeyName", "ApiKeyValue")),
    "OAUTH_CLIENT_CREDENTIALS": (
        "OAuthParameters",
        ("AuthorizationEndpoint", "HttpMethod", "ClientParameters"),
    ),
}
SECRETS = {"Password", "ApiKeyValue", "ClientSecret"}
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,512}\Z")  # an HTTP token (RFC 9110)


def _validation(errors: list[str]) -> ValidationException:
    count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected"
    return ValidationException(f"{count}: {'; '.join(errors)}")


def _value(value: Any, field: str, rule: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{field}' failed to satisfy constraint: {rule}"


def _enum(value: Any, field: str, values: tuple[str, ...]) -> str:
    return _value(value, field, f"Member must satisfy enum value set: [{', '.join(values)}]")


def _check(errors: list[str]) -> None:
    if errors:
        raise _validation(errors)


def _name_errors(request: dict) -> list[str]:
    name = request.get("Name")
    if name is None:
        return [_value(None, "name", "Member must not be null")]
    if not isinstance(name, str) or not NAME.match(name):
        return [_value(name, "name", NAME_RULE)]
    return []


def _description_errors(request: dict) -> list[str]:
    text = request.get("Description")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_DESCRIPTION):
        rule = f"Member must have length less than or equal to {MAX_DESCRIPTION}"
        return [_value(text, "description", rule)]
    return []


def _store(api: EventsApi) -> ConnectionStore:
    return api.registry.connections


def _now() -> float:
    return clock.now().timestamp()


# -- connections ---------------------------------------------------------------------------
def _redacted(value: Any) -> Any:
    """AuthParameters as answered: no secret, and a parameter marked secret has no Value."""
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _redacted(v) for k, v in value.items() if k not in SECRETS}
    if value.get("IsValueSecret") is True:
        out.pop("Value", None)
    return out


def _auth_errors(kind: str, auth: Any) -> list[str]:
    member, fields = AUTH_MEMBER[kind]
    given = auth.get(member) if isinstance(auth, dict) else None
    if not isinstance(given, dict) or any(given.get(f) in (None, "") for f in fields):
        return [
            f"Value at 'authParameters.{member[0].lower()}{member[1:]}' failed to satisfy constraint: "
            f"{', '.join(fields)} must be specified for authorization type {kind}"
        ]
    # Each of them goes out in an HTTP header: a value that HTTP cannot carry (a snowman, a
    # line break) failed every delivery of the connection's destinations, and a later rule's.
    for field in fields:
        value = str(given[field])
        if (
            not is_text(value, "latin-1")
            or any(c in value for c in "\r\n\x00")
            or (field == "ApiKeyName" and not HEADER_NAME.match(value))
        ):
            where = f"authParameters.{member[0].lower()}{member[1:]}.{field}"
            return [f"Value at '{where}' cannot be sent in an HTTP header"]
    return []


def _connection(api: EventsApi, request: dict, scope: Scope, described: bool = False) -> Connection:
    name = _required(request, "Name")
    connection = _store(api).connections.get((*scope, str(name)))
    if connection is None:
        prefix = "Failed to describe the connection(s). " if described else ""
        raise ResourceNotFoundException(f"{prefix}Connection '{name}' does not exist.")
    return connection


def _connection_times(c: Connection) -> dict:
    return {"CreationTime": c.created, "LastModifiedTime": c.modified, "LastAuthorizedTime": c.authorized}


def _authorize(c: Connection, now: float) -> None:
    # OAuth: EventBridge asks the authorization endpoint for a token; the local bus never
    # does, so such a connection stays AUTHORIZING (and its destinations INACTIVE).
    c.state = "AUTHORIZING" if c.authorization_type == "OAUTH_CLIENT_CREDENTIALS" else "AUTHORIZED"
    c.authorized = now


def create_connection(api: EventsApi, request: dict, scope: Scope) -> dict:
    kind = str(request.get("AuthorizationType"))
    errors = _name_errors(request) + _description_errors(request)
    if kind not in AUTH_TYPES:
        errors.append(_enum(request.get("AuthorizationType"), "authorizationType", AUTH_TYPES))
    if request.get("AuthParameters") is None:
        errors.append(_value(None, "authParameters", "Member must not be null"))
    _check(errors)
    _check(_auth_errors(kind, request["AuthParameters"]))
    store, name = _store(api), request["Name"]
    if (*scope, name) in store.connections:
        raise ResourceAlreadyExistsException(f"Connection {name} already exists.")
    now = _now()
    connection = Connection(
        *scope, name, str(uuid.uuid4()), kind, copy.deepcopy(request["AuthParameters"]),
        request.get("Description") or "", created=now, modified=now,
    )  # fmt: skip
    _authorize(connection, now)
    store.connections[(*scope, name)] = connection
    store.save()
    return {
        "ConnectionArn": connection.arn,
        "ConnectionState": connection.state,
        "CreationTime": now,
        "LastModifiedTime": now,
    }


def describe_connection(api: EventsApi, request: dict, scope: Scope) -> dict:
    c = _connection(api, request, scope, described=True)
    out: dict[str, Any] = {"ConnectionArn": c.arn, "Name": c.name}
    if c.description:
        out["Description"] = c.description
    out |= {
        "ConnectionState": c.state,
        "AuthorizationType": c.authorization_type,
        "SecretArn": c.secret_arn,
        "AuthParameters": _redacted(c.auth),
        **_connection_times(c),
    }
    return out


def list_connections(api: EventsApi, request: dict, scope: Scope) -> dict:
    prefix, state = request.get("NamePrefix") or "", request.get("ConnectionState")
    if state is not None and state not in CONNECTION_STATES:
        _check([_enum(state, "connectionState", CONNECTION_STATES)])
    items = [
        {
            "ConnectionArn": c.arn,
            "Name": c.name,
            "ConnectionState": c.state,
            "AuthorizationType": c.authorization_type,
            **_connection_times(c),
        }
        for c in _store(api).in_scope(_store(api).connections, scope)
        if c.name.startswith(prefix) and (state is None or c.state == state)
    ]
    return _page(items, request, "Connections")


def _merged(old: dict, new: dict) -> dict:
    out = copy.deepcopy(old)
    for key, value in new.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(out[key], value) if both else value
    return out


def update_connection(api: EventsApi, request: dict, scope: Scope) -> dict:
    _check(_description_errors(request))
    c = _connection(api, request, scope)
    kind = str(request.get("AuthorizationType", c.authorization_type))
    if kind not in AUTH_TYPES:
        _check([_enum(kind, "authorizationType", AUTH_TYPES)])
    auth = request.get("AuthParameters")
    if auth is not None and not isinstance(auth, dict):
        _check([_value(auth, "authParameters", "Member must be a structure")])
    merged = _merged(c.auth if kind == c.authorization_type else {}, auth or {})
    _check(_auth_errors(kind, merged))
    now = _now()
    c.authorization_type, c.auth, c.modified = kind, merged, now
    if "Description" in request:
        c.description = request.get("Description") or ""
    _authorize(c, now)
    _store(api).save()
    return {"ConnectionArn": c.arn, "ConnectionState": c.state, **_connection_times(c)}


def delete_connection(api: EventsApi, request: dict, scope: Scope) -> dict:
    c = _connection(api, request, scope)
    store = _store(api)
    del store.connections[(c.account, c.region, c.name)]
    store.save()
    return {"ConnectionArn": c.arn, "ConnectionState": "DELETING", **_connection_times(c)}


def deauthorize_connection(api: EventsApi, request: dict, scope: Scope) -> dict:
    c = _connection(api, request, scope)
    c.state, c.modified = "DEAUTHORIZED", _now()
    _store(api).save()
    return {"ConnectionArn": c.arn, "ConnectionState": "DEAUTHORIZING", **_connection_times(c)}


# -- API destinations ----------------------------------------------------------------------
def _defined(api: EventsApi, scope: Scope) -> dict:
    """bus.yaml's endpoints: API destinations of the server's own account and region."""
    home = api.registry.home
    return dict(api.registry.defined_endpoints) if scope == (home.account, home.region) else {}


def _destination_out(api: EventsApi, d: ApiDestination, full: bool) -> dict:
    connection = _store(api).connection_by_arn(d.connection_arn)
    active = connection is not None and connection.state == "AUTHORIZED"
    out: dict[str, Any] = {
        "ApiDestinationArn": d.arn,
        "Name": d.name,
        "ApiDestinationState": "ACTIVE" if active else "INACTIVE",
        "ConnectionArn": d.connection_arn,
        "InvocationEndpoint": d.endpoint,
        "HttpMethod": d.method,
        "InvocationRateLimitPerSecond": d.rate,
        "CreationTime": d.created,
        "LastModifiedTime": d.modified,
    }
    if full and d.description:
        out["Description"] = d.description
    return out


def _defined_out(api: EventsApi, scope: Scope, name: str, full: bool) -> dict:
    endpoint = _defined(api, scope)[name]
    out: dict[str, Any] = {
        "ApiDestinationArn": f"arn:aws:events:{scope[1]}:{scope[0]}:api-destination/{name}",
        "Name": name,
        "ApiDestinationState": "ACTIVE",
        "InvocationEndpoint": endpoint.url,
        "HttpMethod": "POST",
        "InvocationRateLimitPerSecond": 300,
    }
    if full and endpoint.description:
        out["Description"] = endpoint.description
    return out


def _destination(api: EventsApi, request: dict, scope: Scope, described: bool = False) -> ApiDestination:
    name = _required(request, "Name")
    destination = _store(api).destinations.get((*scope, str(name)))
    if destination is None:
        if str(name) in _defined(api, scope) and not described:
            raise ValidationException(
                f"API destination {name} is defined in the bus definition (infra/bus.yaml) "
                "and cannot be changed through the API."
            )
        prefix = "Failed to describe the api-destination(s). " if described else ""
        raise ResourceNotFoundException(f"{prefix}An api-destination '{name}' does not exist.")
    return destination


def _destination_errors(request: dict, creating: bool) -> list[str]:
    errors = _name_errors(request) + _description_errors(request)
    arn, endpoint, method = (request.get(k) for k in ("ConnectionArn", "InvocationEndpoint", "HttpMethod"))
    if arn is None and creating:
        errors.append(_value(None, "connectionArn", "Member must not be null"))
    elif arn is not None and not CONNECTION_ARN.match(str(arn)):
        errors.append(_value(arn, "connectionArn", CONNECTION_ARN_RULE))
    if endpoint is None and creating:
        errors.append(_value(None, "invocationEndpoint", "Member must not be null"))
    elif endpoint is not None and not (
        isinstance(endpoint, str) and endpoint.startswith(("https://", "http://"))
    ):
        errors.append(_value(endpoint, "invocationEndpoint", "Member must be an HTTPS URL"))
    if method is None and creating:
        errors.append(_value(None, "httpMethod", "Member must not be null"))
    elif method is not None and method not in HTTP_METHODS:
        errors.append(_enum(method, "httpMethod", HTTP_METHODS))
    rate = request.get("InvocationRateLimitPerSecond")
    if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool) or rate < 1):
        rule = "Member must have value greater than or equal to 1"
        errors.append(_value(rate, "invocationRateLimitPerSecond", rule))
    return errors


def _connection_of(api: EventsApi, arn: str, scope: Scope) -> None:
    connection = _store(api).connection_by_arn(arn)
    if connection is None or (connection.account, connection.region) != scope:
        raise ResourceNotFoundException(f"Connection '{arn.split('/')[-2]}' does not exist.")


def create_api_destination(api: EventsApi, request: dict, scope: Scope) -> dict:
    _check(_destination_errors(request, creating=True))
    store, name = _store(api), request["Name"]
    if (*scope, name) in store.destinations or name in _defined(api, scope):
        raise ResourceAlreadyExistsException(f"An api-destination '{name}' already exists.")
    _connection_of(api, request["ConnectionArn"], scope)
    now = _now()
    destination = ApiDestination(
        *scope, name, str(uuid.uuid4()), request["ConnectionArn"], request["InvocationEndpoint"],
        request["HttpMethod"], request.get("InvocationRateLimitPerSecond") or 300,
        request.get("Description") or "", now, now,
    )  # fmt: skip
    store.destinations[(*scope, name)] = destination
    store.save()
    return _destination_answer(api, destination)


def _destination_answer(api: EventsApi, d: ApiDestination) -> dict:
    out = _destination_out(api, d, full=False)
    keys = ("ApiDestinationArn", "ApiDestinationState", "CreationTime", "LastModifiedTime")
    return {k: out[k] for k in keys}


def describe_api_destination(api: EventsApi, request: dict, scope: Scope) -> dict:
    name = _required(request, "Name")
    if (*scope, str(name)) not in _store(api).destinations and str(name) in _defined(api, scope):
        return _defined_out(api, scope, str(name), full=True)
    return _destination_out(api, _destination(api, request, scope, described=True), full=True)


def list_api_destinations(api: EventsApi, request: dict, scope: Scope) -> dict:
    prefix, arn = request.get("NamePrefix") or "", request.get("ConnectionArn")
    store = _store(api)
    items = [_destination_out(api, d, full=False) for d in store.in_scope(store.destinations, scope)]
    if arn is None:
        items += [_defined_out(api, scope, name, full=False) for name in _defined(api, scope)]
    items = [
        i for i in items if i["Name"].startswith(prefix) and (arn is None or i.get("ConnectionArn") == arn)
    ]
    return _page(sorted(items, key=lambda i: i["Name"]), request, "ApiDestinations")


def update_api_destination(api: EventsApi, request: dict, scope: Scope) -> dict:
    _check(_destination_errors(request, creating=False))
    d = _destination(api, request, scope)
    if request.get("ConnectionArn") is not None:
        _connection_of(api, request["ConnectionArn"], scope)
        d.connection_arn = request["ConnectionArn"]
    d.endpoint = request.get("InvocationEndpoint") or d.endpoint
    d.method = request.get("HttpMethod") or d.method
    d.rate = request.get("InvocationRateLimitPerSecond") or d.rate
    if "Description" in request:
        d.description = request.get("Description") or ""
    d.modified = _now()
    _store(api).save()
    return _destination_answer(api, d)


def delete_api_destination(api: EventsApi, request: dict, scope: Scope) -> dict:
    d = _destination(api, request, scope)
    store = _store(api)
    del store.destinations[(d.account, d.region, d.name)]
    store.save()
    return {}


CONNECTION_OPERATIONS: dict[str, Callable[[EventsApi, dict, Scope], dict]] = {
    "CreateConnection": create_connection,
    "DescribeConnection": describe_connection,
    "ListConnections": list_connections,
    "UpdateConnection": update_connection,
    "DeleteConnection": delete_connection,
    "DeauthorizeConnection": deauthorize_connection,
    "CreateApiDestination": create_api_destination,
    "DescribeApiDestination": describe_api_destination,
    "ListApiDestinations": list_api_destinations,
    "UpdateApiDestination": update_api_destination,
    "DeleteApiDestination": delete_api_destination,
}
