"""Roles, the local-only rule, the ALB's signed header and the audit trail (no network:
tokens are signed with a key made here, and the key fetch is stubbed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app import audit
from app.auth import (
    AlbVerifier,
    SignInError,
    User,
    parse_role_map,
    roles_from_claims,
    serves_only_localhost,
    user_from_claims,
)

ALB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/verticals/50dc6c495c0c9188"
OTHER_ALB = ALB.replace("verticals", "someone-else")
NOW = 1_800_000_000


def new_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, pem.decode("ascii")


KEY, PEM = new_key()
INTRUDER, _ = new_key()


def token(
    key=KEY, kid="kid-1", signer=ALB, exp=NOW + 60, claims: dict | None = None, alg: str = "ES256"
) -> str:
    payload = claims or {"sub": "1234", "email": "ana@example.com", "groups": ["data-team"]}
    headers = {"kid": kid, "signer": signer, "exp": exp, "iss": "https://idp.example", "client": "app"}
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


class Keys:
    """The stubbed https://public-keys.auth.elb.<region>.amazonaws.com/<kid>."""

    def __init__(self, keys: dict[str, str]):
        self.keys, self.fetched = keys, []

    def __call__(self, region: str, kid: str) -> str:
        self.fetched.append((region, kid))
        if kid not in self.keys:
            raise SignInError("The sign-in header names a key the load balancer does not publish.")
        return self.keys[kid]


def verifier(keys: Keys | None = None) -> AlbVerifier:
    return AlbVerifier(ALB, fetch_key=keys or Keys({"kid-1": PEM}), clock=lambda: NOW)


def test_a_valid_header_gives_the_claims_and_the_key_is_kept_by_kid():
    keys = Keys({"kid-1": PEM})
    check = verifier(keys)
    assert check.claims(token())["email"] == "ana@example.com"
    assert check.claims(token(claims={"email": "bo@example.com"}))["email"] == "bo@example.com"
    assert keys.fetched == [("eu-west-1", "kid-1")]  # fetched once for the ALB's region


@pytest.mark.parametrize(
    ("bad", "sentence"),
    [
        pytest.param(token(key=INTRUDER), "signature does not match", id="bad-signature"),
        pytest.param(token(signer=OTHER_ALB), "signed by another load balancer", id="wrong-signer"),
        pytest.param(token(exp=NOW - 3600), "expired", id="expired"),
        # NaN compares false with every time, Infinity never comes, a huge int is no float
        pytest.param(token(exp="NaN"), "expiry is not a time", id="exp-nan"),
        pytest.param(token(exp="Infinity"), "expiry is not a time", id="exp-infinity"),
        pytest.param(token(exp=10**400), "expiry is not a time", id="exp-past-any-float"),
        pytest.param(token(exp=True), "expiry is not a time", id="exp-boolean"),
        pytest.param(token(kid="kid-unknown"), "does not publish", id="unknown-kid"),
        pytest.param(token(kid="../../evil"), "no valid key id", id="kid-with-a-path"),
        pytest.param(token(alg="HS256", key="a-shared-secret-of-32-bytes-long!"), "ES256", id="hs256"),
        pytest.param("not-a-token", "not a token", id="garbage"),
        pytest.param(None, "no sign-in header", id="missing"),
    ],
)
def test_a_header_that_cannot_be_trusted_is_one_sentence(bad, sentence):
    with pytest.raises(SignInError, match=sentence) as caught:
        verifier().claims(bad)
    assert str(caught.value).count(".") <= 2 and "\n" not in str(caught.value)


def test_a_tampered_payload_fails_the_signature():
    header, _, signature = token().split(".")
    forged = jwt.utils.base64url_encode(json.dumps({"email": "root@example.com"}).encode()).decode()
    with pytest.raises(SignInError, match="signature"):
        verifier().claims(f"{header}.{forged}.{signature}")


def test_roles_come_from_the_claim_through_the_mapping():
    mapping = parse_role_map("dash-managers=manager, data-team=analyst, sre=ops")
    assert roles_from_claims({"groups": ["data-team", "other"]}, "groups", mapping) == {"analyst"}
    assert roles_from_claims({"groups": "sre,dash-managers"}, "groups", mapping) == {"ops", "manager"}
    assert roles_from_claims({"groups": ["manager", "boss"]}, "groups", {}) == {"manager"}
    assert roles_from_claims({}, "groups", mapping) == frozenset()
    with pytest.raises(ValueError, match="boss"):
        parse_role_map("x=boss")


def test_roles_add_up():
    manager, analyst, ops = (User("u", frozenset({r}), "oidc") for r in ("manager", "analyst", "ops"))
    assert manager.may("dashboards") and not manager.may("explore") and not manager.may("redrive")
    assert analyst.may("explore") and not analyst.may("redrive")
    assert ops.may("explore") and ops.may("redrive") and ops.may("replay") and ops.may("audit")
    assert user_from_claims({"email": "a@b.c", "groups": ["ops"]}, "groups", {}, "alb") == User(
        "a@b.c", frozenset({"ops"}), "alb"
    )


@pytest.mark.parametrize(
    ("address", "local"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("", False), (None, False), ("0.0.0.0", False)],
)
def test_only_the_loopback_counts_as_local(address, local):
    assert serves_only_localhost(address) is local


def test_the_audit_trail_appends_and_reads_newest_first(tmp_path):
    path = tmp_path / "bus" / "audit.jsonl"
    first = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    audit.record(path, user="ana", roles="ops", via="alb", action="sign-in", what="alb", at=first)
    audit.record(path, user="ana", roles="ops", via="alb", action="redrive", what="crm-dlq", count=3)
    path.open("a").write("not json\n")
    entries = audit.read(path)
    assert [e.action for e in entries] == ["redrive", "sign-in"]
    assert entries[0].count == 3 and entries[1].at == "2026-12-05T09:00:00+00:00"
    assert len(path.read_text().splitlines()) == 3  # appended, never rewritten
    with pytest.raises(ValueError):
        audit.record(path, user="x", roles="", via="local", action="delete", what="")
