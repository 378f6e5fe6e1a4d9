"""Resource indicators (RFC 8707) in the spec layer: parsing, policy, narrowing,
the ``aud`` they make, the repeatable parameter, and the grants against the
in-memory store."""

import json

import pytest

from oauth_tokens.oauth2 import authorize, resources
from oauth_tokens.oauth2.errors import InvalidRequest, InvalidTarget
from oauth_tokens.oauth2.pkce import s256
from oauth_tokens.oauth2.request import TokenRequest, parse_body_lists
from oauth_tokens.oauth2.server import create_token_response
from tests.oauth2.memory_store import MemoryStore

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
A, B, C = "https://a.example.test/api", "https://b.example.test/mcp", "https://c.example.test/"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


@pytest.mark.parametrize("value", [
    "https://api.example.com", "https://api.example.com/mcp?tenant=1", "urn:example:resource",
    "http://localhost:8000/mcp",
])
def test_absolute_uris_without_fragment_are_resources(value):
    assert resources.problem(value) is None
    assert resources.parse([value]) == (value,)


@pytest.mark.parametrize(("value", "why"), [
    ("https://api.example.com/#frag", "fragment"),
    ("https://api.example.com#", "fragment"),
    ("/relative/path", "absolute URI"),
    ("api.example.com", "absolute URI"),
    ("//api.example.com", "absolute URI"),
    ("https://", "absolute URI"),
    ("https:", "absolute URI"),
    ("1https://x", "absolute URI"),
    ("https://api example.com", "absolute URI"),
    ("https://api.example.com:99999999999/", "absolute URI"),
    ("https://x.test/" + "a" * 3000, "too long"),
])
def test_anything_else_is_invalid_target(value, why):
    with pytest.raises(InvalidTarget) as refused:
        resources.parse([value])
    assert refused.value.error == "invalid_target" and refused.value.status_code == 400
    assert why in refused.value.description


def test_parse_keeps_order_drops_duplicates_and_caps_the_count():
    assert resources.parse([B, A, B]) == (B, A)
    with pytest.raises(InvalidTarget):
        resources.parse([f"https://r{i}.example.test" for i in range(resources.MAX_RESOURCES + 1)])


def test_default_policy_is_https_or_loopback_http():
    allow = lambda r: resources.allowed(r, server=(), client=())  # noqa: E731
    assert allow("https://api.example.com") and allow("http://127.0.0.1:9000/mcp") and allow("http://[::1]/")
    assert not allow("http://api.example.com") and not allow("urn:example:x") and not allow("ftp://x.test")


def test_server_and_client_lists_limit_the_resources():
    assert resources.allowed(A, server=(A, B), client=())
    assert not resources.allowed(C, server=(A, B), client=())
    assert resources.allowed(A, server=(), client=(A,))
    assert not resources.allowed(B, server=(), client=(A,))
    # The server's default audience is always one it issues for (a client list still limits it).
    assert resources.allowed("https://default.test", server=(A,), client=(), default="https://default.test")
    assert not resources.allowed("https://default.test", server=(), client=(A,), default="https://default.test")


def test_requested_refuses_a_resource_the_client_may_not_use():
    assert resources.requested([A], lambda r: r == A) == (A,)
    with pytest.raises(InvalidTarget) as refused:
        resources.requested([A, B], lambda r: r == A)
    assert B in refused.value.description


def test_narrow_is_a_subset_of_the_grant_or_the_whole_grant():
    assert resources.narrow((), (A, B)) == (A, B)
    assert resources.narrow((B,), (A, B)) == (B,)
    with pytest.raises(InvalidTarget):
        resources.narrow((C,), (A, B))
    with pytest.raises(InvalidTarget):
        resources.narrow((A,), ())  # a grant for the default audience only


def test_audience_is_a_string_for_one_a_list_for_several_the_default_for_none():
    assert resources.audience((), "https://issuer") == "https://issuer"
    assert resources.audience((A,), "https://issuer") == A
    assert resources.audience((A, B), "https://issuer") == [A, B]
    assert resources.split(resources.join((A, B))) == (A, B) and resources.split("") == ()


# -- the repeatable parameter ---------------------------------------------------------
def test_form_body_may_repeat_resource_only():
    params, lists = parse_body_lists(FORM, f"grant_type=x&resource={A}&resource={B}&resource=".encode())
    assert lists == {"resource": (A, B)} and params["grant_type"] == "x"
    with pytest.raises(InvalidRequest):
        parse_body_lists(FORM, b"scope=a&scope=b")


def test_json_body_takes_a_string_or_an_array_of_strings():
    assert parse_body_lists(JSON, json.dumps({"resource": A}).encode())[1] == {"resource": (A,)}
    assert parse_body_lists(JSON, json.dumps({"resource": [A, B]}).encode())[1] == {"resource": (A, B)}
    with pytest.raises(InvalidRequest):
        parse_body_lists(JSON, json.dumps({"resource": [A, 1]}).encode())
    with pytest.raises(InvalidRequest):
        parse_body_lists(JSON, json.dumps({"scope": ["read"]}).encode())


def test_token_request_getlist():
    request = TokenRequest.build(content_type=FORM, body=f"resource={A}&resource={B}".encode())
    assert request.getlist("resource") == (A, B) and request.getlist("audience") == ()


# -- the authorization request --------------------------------------------------------
def auth_params(**overrides):
    base = {"response_type": "code", "client_id": "c1", "redirect_uri": "https://app.example.test/cb",
            "scope": "read", "state": "xyz", "code_challenge": s256(VERIFIER), "code_challenge_method": "S256"}
    return {**base, **overrides}


def test_authorization_request_keeps_its_resources():
    store = MemoryStore()
    request = authorize.validate(auth_params(), store.add_client("c1"), resource=[A, B])
    assert request.resources == (A, B)
    assert "resource" not in request.as_params()


@pytest.mark.parametrize("value", ["https://a.example.test/#f", "/api", "http://plain.example.test/"])
def test_bad_resource_at_authorize_is_an_invalid_target_redirect(value):
    store = MemoryStore()
    with pytest.raises(authorize.RedirectError) as refused:
        authorize.validate(auth_params(), store.add_client("c1"), resource=[value])
    assert refused.value.error.error == "invalid_target"
    assert "error=invalid_target" in refused.value.location and "state=xyz" in refused.value.location


def test_resource_outside_the_clients_list_at_authorize_is_invalid_target():
    store = MemoryStore()
    with pytest.raises(authorize.RedirectError) as refused:
        authorize.validate(auth_params(), store.add_client("c1", resource_list=(A,)), resource=[B])
    assert refused.value.error.error == "invalid_target"


def test_unverified_redirect_uri_is_shown_even_with_a_bad_resource():
    store = MemoryStore()
    with pytest.raises(authorize.UnsafeRedirectError):
        authorize.validate(auth_params(redirect_uri="https://evil.test/cb"), store.add_client("c1"),
                           resource=["/relative"])


# -- the grants -------------------------------------------------------------------------
def token(store, client, body):
    request = TokenRequest.build(content_type=FORM, body=body.encode())
    return create_token_response(request, store, authenticate=lambda r, s: client)[1]


def test_code_exchange_narrows_to_the_requested_resources_and_the_family_keeps_all():
    store = MemoryStore()
    client = store.add_client("c1", secret="s")
    code = store.add_code(client, resources=(A, B))
    tokens = token(store, client, f"grant_type=authorization_code&code={code}"
                                  f"&redirect_uri=https://app.example.test/cb&resource={A}")
    assert store.access(tokens.access_token).resources == (A,)
    assert store.refresh_tokens[tokens.refresh_token].resources == f"{A}\n{B}"

    # A refresh may ask for the other one of the grant, or all; never for more.
    again = token(store, client, f"grant_type=refresh_token&refresh_token={tokens.refresh_token}&resource={B}")
    assert store.access(again.access_token).resources == (B,)
    assert store.refresh_tokens[again.refresh_token].resources == f"{A}\n{B}"
    with pytest.raises(InvalidTarget):
        token(store, client, f"grant_type=refresh_token&refresh_token={again.refresh_token}&resource={C}")
    whole = token(store, client, f"grant_type=refresh_token&refresh_token={again.refresh_token}")
    assert store.access(whole.access_token).resources == (A, B)


def test_code_without_resources_refuses_a_resource_at_the_token_endpoint():
    store = MemoryStore()
    client = store.add_client("c1", secret="s")
    code = store.add_code(client)
    with pytest.raises(InvalidTarget):
        token(store, client, f"grant_type=authorization_code&code={code}"
                             f"&redirect_uri=https://app.example.test/cb&resource={A}")
    assert store.codes[code].used_at is None  # nothing spent


def test_refresh_after_the_client_lost_every_granted_resource_is_invalid_target():
    store = MemoryStore()
    client = store.add_client("c1", secret="s")
    code = store.add_code(client, resources=(A,))
    tokens = token(store, client, f"grant_type=authorization_code&code={code}"
                                  "&redirect_uri=https://app.example.test/cb")
    client.resource_list = (B,)
    with pytest.raises(InvalidTarget):
        token(store, client, f"grant_type=refresh_token&refresh_token={tokens.refresh_token}")


def test_client_credentials_token_for_the_requested_resources():
    store = MemoryStore()
    client = store.add_client("c1", secret="s", resource_list=(A, B))
    tokens = token(store, client, f"grant_type=client_credentials&resource={A}&resource={B}")
    assert store.access(tokens.access_token).resources == (A, B)
    assert store.access(token(store, client, "grant_type=client_credentials").access_token).resources == ()
    with pytest.raises(InvalidTarget):
        token(store, client, f"grant_type=client_credentials&resource={C}")
