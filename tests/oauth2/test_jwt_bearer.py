"""The JWT bearer grant's assertion checks and the grant itself (RFC 7523 sections
2.1 and 3, ID-JAG), in the spec layer alone, against an in-memory store."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from oauth_tokens.oauth2 import client_assertion, jwt_bearer
from oauth_tokens.oauth2.errors import InvalidGrant, InvalidScope, UnsupportedGrantType
from oauth_tokens.oauth2.jwt_bearer import GRANT_TYPE, ID_JAG_TYP, Assertion, Issuer, Policy
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.oauth2.server import create_token_response
from oauth_tokens.oauth2.store import TokenSet
from tests.oauth2.memory_store import MemClient, MemoryStore

NOW = 1_800_000_000.0
AS = "https://as.example.test"
IDP = "https://idp.example.test"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = {"keys": [{**RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True), "kid": "k1", "use": "sig"}]}
POLICY = Policy(issuer=AS, token_endpoint=AS + "/oauth/token", now=NOW, leeway=30, max_lifetime=300)


def make(*, typ: str | None = None, **claims: Any) -> str:
    payload = {"iss": IDP, "sub": "alice", "aud": AS, "jti": uuid.uuid4().hex, "iat": int(NOW),
               "exp": int(NOW) + 60, **claims}
    headers = {"kid": "k1", **({"typ": typ} if typ else {})}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, KEY, algorithm="RS256", headers=headers)


def keys(issuer: Issuer, kid: str | None, alg: str) -> list[Any]:
    return client_assertion.jwks_keys(issuer.jwks, kid, alg)[0]


def verify(value: str, **config: Any) -> Assertion:
    issuers = {IDP: Issuer.from_setting(IDP, {"jwks": JWKS, **config})}
    return jwt_bearer.verify(value, issuers=issuers, keys=keys, policy=POLICY)


def test_a_good_assertion_names_its_subject_and_limits():
    checked = verify(make(scope="read write", resource=["https://api.example.test"]))
    assert (checked.subject, checked.issuer.issuer, checked.id_jag) == ("alice", IDP, False)
    assert checked.scope == ("read", "write") and checked.resources == ("https://api.example.test",)
    assert checked.expires_at == NOW + 60


@pytest.mark.parametrize("typ", [ID_JAG_TYP, "application/oauth-id-jag+jwt", "OAUTH-ID-JAG+JWT"])
def test_the_id_jag_typ_is_compared_as_a_media_type(typ):
    assert verify(make(typ=typ, client_id="agent"), id_jag=True).id_jag


@pytest.mark.parametrize(("value", "config", "words"), [
    (make(exp=int(NOW) - 31), {}, "expired"),
    (make(exp=int(NOW) + 331), {}, "longer than 300"),
    (make(iat=int(NOW) + 31), {}, "iat is in the future"),
    (make(aud=AS + "/oauth/token"), {}, "aud"),
    (make(aud="https://alias.example.test", typ=ID_JAG_TYP, client_id="agent"),
     {"audiences": ["https://alias.example.test"]}, "aud"),
    (make(client_id="agent"), {"id_jag": True}, ID_JAG_TYP),
    (make(typ=ID_JAG_TYP), {}, "client_id"),
    (make(iss="https://other.example.test"), {}, "not trusted"),
])
def test_refusals(value, config, words):
    with pytest.raises(InvalidGrant, match=re.escape(words)):
        verify(value, **config)


def test_extra_audiences_and_the_token_endpoint_where_configured():
    assert verify(make(aud="https://alias.example.test"), audiences=["https://alias.example.test"])
    assert verify(make(aud=[AS + "/oauth/token"]), token_endpoint_audience=True)


class AssertionStore(MemoryStore):
    """``MemoryStore`` with the JWT bearer grant: the same contract as the ORM store."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.enabled = True
        self.users = {"alice": "user:alice"}
        self.seen: set[tuple[str, str]] = set()
        self.issued: list[tuple[str, str, tuple[str, ...]]] = []

    def jwt_bearer_enabled(self) -> bool:
        return self.enabled

    def verify_assertion(self, assertion: str) -> Assertion:
        return verify(assertion)

    def assertion_user(self, assertion: Assertion, client: MemClient) -> str | None:
        return self.users.get(assertion.subject)

    def first_use_of_assertion(self, assertion: Assertion) -> bool:
        key = (assertion.issuer.issuer, assertion.jti)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def issue_assertion_tokens(self, client: MemClient, user: str, scope: str, resources: tuple[str, ...],
                               assertion: Assertion) -> TokenSet:
        self.issued.append((user, scope, resources))
        return TokenSet(access_token="at", expires_in=3600, scope=scope)


@pytest.fixture
def store():
    store = AssertionStore()
    store.add_client("agent", secret="s3cret", grant_type_list=(GRANT_TYPE,), scope_list=("read", "write"))
    return store


def request(value: str, **params: str) -> TokenRequest:
    body = urlencode({"grant_type": GRANT_TYPE, "assertion": value, "client_id": "agent",
                      "client_secret": "s3cret", **params})
    return TokenRequest.build(content_type="application/x-www-form-urlencoded", body=body.encode(),
                              authorization="")


def test_the_grant_issues_for_the_user_within_the_assertions_scope(store):
    _client, tokens = create_token_response(request(make(scope="read")), store)
    assert tokens.scope == "read" and store.issued == [("user:alice", "read", ())]
    with pytest.raises(InvalidScope):
        create_token_response(request(make(scope="read"), scope="write"), store)


def test_the_grant_records_the_jti_last_and_once(store):
    value = make(sub="nobody")
    with pytest.raises(InvalidGrant, match="not a user"):
        create_token_response(request(value), store)
    assert store.seen == set()
    value = make()
    create_token_response(request(value), store)
    with pytest.raises(InvalidGrant, match="already used"):
        create_token_response(request(value), store)


def test_off_or_absent_is_unsupported_grant_type(store):
    store.enabled = False
    with pytest.raises(UnsupportedGrantType):
        create_token_response(request(make()), store)
    plain = MemoryStore()
    plain.add_client("agent", secret="s3cret", grant_type_list=(GRANT_TYPE,))
    with pytest.raises(UnsupportedGrantType):
        create_token_response(request(make()), plain)
