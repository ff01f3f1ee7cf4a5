"""Who is using the dashboard and what they may do: identities, roles, and the checks of
the sign-in header an AWS Application Load Balancer adds.

Three ways to sign in (the ``sign_in`` setting, see docs/security.md):

- ``local``: no sign-in; one identity, ``local``, with the ``local_roles`` setting's
  roles. Only while Streamlit listens on the loopback interface (:func:`serves_only_localhost`).
- ``oidc``: Streamlit's own OpenID Connect sign-in (``st.login``); roles come from a claim
  of the identity token.
- ``alb``: an ALB with OIDC authentication signs the user's claims into the
  ``x-amzn-oidc-data`` header; :class:`AlbVerifier` trusts it only after checking its
  ES256 signature with the ALB's public key, its signer and its expiry.

Roles add up: a manager reads the dashboards, an analyst also explores (Saved queries,
Event explorer), ops also act (redrive dead letters, replay archived events) and read
the audit trail. Nothing here imports Streamlit.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ROLES = ("manager", "analyst", "ops")
PERMISSIONS: dict[str, frozenset[str]] = {
    "manager": frozenset({"dashboards"}),
    "analyst": frozenset({"dashboards", "explore"}),
    "ops": frozenset({"dashboards", "explore", "redrive", "replay", "audit"}),
}
# What each permission lets a user do, in the words a refusal uses.
PERMISSION_WORDS = {
    "dashboards": "read the dashboards",
    "explore": "open Saved queries and the Event explorer",
    "redrive": "redrive dead letters",
    "replay": "replay archived events",
    "audit": "read the audit trail",
}
SIGN_IN_MODES = ("local", "oidc", "alb")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
ALB_HEADER = "x-amzn-oidc-data"
ALB_KEY_URL = "https://public-keys.auth.elb.{region}.amazonaws.com/{kid}"
KID_RE = re.compile(r"[A-Za-z0-9-]{1,128}")
MAX_CACHED_KEYS = 32


class SignInError(Exception):
    """The request carries no identity the app can trust; the message is one sentence."""


@dataclass(frozen=True)
class User:
    name: str
    roles: frozenset[str]
    via: str  # "local", "oidc" or "alb"

    def may(self, permission: str) -> bool:
        return any(permission in PERMISSIONS.get(role, ()) for role in self.roles)

    @property
    def role_names(self) -> str:
        return ", ".join(r for r in ROLES if r in self.roles) or "no role"


def who_may(permission: str) -> str:
    """The roles that have ``permission``, for a refusal ("analyst or ops")."""
    return " or ".join(r for r in ROLES if permission in PERMISSIONS[r])


def host_name(host: str) -> str:
    """The name in a Host header, without its port (``[::1]:4010`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_host(host: str | None) -> bool:
    """Whether a request's Host header names this machine. A page of evil.example whose
    name an attacker re-points at 127.0.0.1 (DNS rebinding) reaches a loopback server, but
    its requests still carry ``Host: evil.example``."""
    return host_name(host or "") in LOOPBACK


def serves_only_localhost(address: str | None) -> bool:
    """Whether Streamlit's ``server.address`` keeps the app on this machine. Unset (the
    default) means every interface."""
    return (address or "").strip().strip("[]").lower() in LOOPBACK


# --- roles from claims ----------------------------------------------------------------------


def parse_roles(text: str) -> frozenset[str]:
    """``"manager,ops"`` as a set of roles; raises ValueError naming an unknown role."""
    roles = {part.strip().lower() for part in str(text).split(",") if part.strip()}
    unknown = sorted(roles - set(ROLES))
    if unknown:
        raise ValueError(f"has unknown role {unknown[0]!r} (roles: {', '.join(ROLES)})")
    return frozenset(roles)


def parse_role_map(text: str) -> dict[str, str]:
    """``"dash-managers=manager, platform-ops=ops"``: a group (a claim value) to a role."""
    mapping: dict[str, str] = {}
    for part in str(text).split(","):
        if not part.strip():
            continue
        group, sep, role = part.partition("=")
        if not sep or not group.strip():
            raise ValueError(f"entry {part.strip()!r} is not group=role")
        roles = parse_roles(role)
        if len(roles) != 1:
            raise ValueError(f"entry {part.strip()!r} must name one role")
        mapping[group.strip()] = next(iter(roles))
    return mapping


def claim_values(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The claim's values: a list, or a string of values separated by commas or spaces."""
    value = claims.get(claim)
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[,\s]+", value) if v]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return [str(value)]


def roles_from_claims(claims: Mapping[str, Any], claim: str, mapping: Mapping[str, str]) -> frozenset[str]:
    """Roles from the ``claim`` values: through ``mapping`` when it is set, else values
    that are role names themselves."""
    values = claim_values(claims, claim)
    if mapping:
        return frozenset(mapping[v] for v in values if v in mapping)
    return frozenset(v.lower() for v in values if v.lower() in ROLES)


def user_from_claims(claims: Mapping[str, Any], claim: str, mapping: Mapping[str, str], via: str) -> User:
    name = next(
        (str(claims[k]) for k in ("email", "preferred_username", "name", "sub") if claims.get(k)), "unknown"
    )
    return User(name, roles_from_claims(claims, claim, mapping), via)


# --- the ALB's signed header ------------------------------------------------------------------


def alb_region(alb_arn: str) -> str:
    """The region of an ALB ARN (arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/...)."""
    parts = alb_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "elasticloadbalancing" or not parts[3]:
        raise ValueError("is not the ARN of a load balancer (arn:aws:elasticloadbalancing:<region>:...)")
    return parts[3]


def fetch_alb_key(region: str, kid: str) -> str:
    """The PEM public key the ALB signs with under ``kid`` (AWS publishes one per key id)."""
    import requests

    response = requests.get(ALB_KEY_URL.format(region=region, kid=kid), timeout=5)
    if response.status_code == 404:
        raise SignInError("The sign-in header names a key the load balancer does not publish.")
    response.raise_for_status()
    return response.text


class AlbVerifier:
    """Checks ``x-amzn-oidc-data`` tokens for one ALB; public keys are kept by key id."""

    def __init__(
        self,
        alb_arn: str,
        fetch_key: Callable[[str, str], str] = fetch_alb_key,
        clock: Callable[[], float] = time.time,
        leeway_s: int = 30,
    ) -> None:
        self.alb_arn = alb_arn
        self.region = alb_region(alb_arn)
        self._fetch_key = fetch_key
        self._clock = clock
        self.leeway_s = leeway_s
        self._keys: dict[str, Any] = {}

    def _key(self, kid: str) -> Any:
        if kid not in self._keys:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            try:
                pem = self._fetch_key(self.region, kid)
            except SignInError:
                raise
            except Exception as exc:
                raise SignInError(f"The load balancer's public key could not be read ({exc}).") from None
            if len(self._keys) >= MAX_CACHED_KEYS:
                self._keys.pop(next(iter(self._keys)))
            self._keys[kid] = load_pem_public_key(pem.encode("ascii"))
        return self._keys[kid]

    def claims(self, token: str | None) -> dict[str, Any]:
        """The user's claims from a verified token; SignInError (one sentence) otherwise."""
        import jwt

        if not token:
            raise SignInError("The request has no sign-in header from the load balancer.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise SignInError("The sign-in header is not a token.") from None
        if header.get("alg") != "ES256":
            raise SignInError("The sign-in header is not signed with ES256.")
        if header.get("signer") != self.alb_arn:
            raise SignInError("The sign-in header was signed by another load balancer.")
        kid = str(header.get("kid", ""))
        if not KID_RE.fullmatch(kid):
            raise SignInError("The sign-in header names no valid key id.")
        key = self._key(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["ES256"],
                options={"verify_aud": False, "verify_iat": False, "verify_nbf": False, "verify_exp": False},
            )
        except jwt.InvalidSignatureError:
            raise SignInError(
                "The sign-in header's signature does not match the load balancer's key."
            ) from None
        except jwt.PyJWTError as exc:
            raise SignInError(f"The sign-in header cannot be read ({exc}).") from None
        # The ALB puts exp in the token's header; a payload exp is checked too.
        expiries = [v for v in (header.get("exp"), claims.get("exp")) if v is not None]
        if not expiries:
            raise SignInError("The sign-in header has no expiry.")
        try:
            times = [float(v) for v in expiries if not isinstance(v, bool)]
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int past any float
            raise SignInError("The sign-in header's expiry is not a time.") from None
        if len(times) < len(expiries) or not all(math.isfinite(t) for t in times):
            # "NaN" compares false with every time, and "Infinity" never comes: neither expires.
            raise SignInError("The sign-in header's expiry is not a time.")
        expired = min(times) + self.leeway_s < self._clock()
        if expired:
            raise SignInError("The sign-in has expired: reload the page to sign in again.")
        return claims
