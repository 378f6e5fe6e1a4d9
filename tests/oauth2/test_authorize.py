"""Redirect URI matching and authorization request validation (RFC 6749 3.1.2.3,
4.1.2.1; RFC 8252 7.3; RFC 9700 2.1)."""

import pytest

from oauth_tokens.oauth2 import authorize
from oauth_tokens.oauth2.errors import InvalidRequest, InvalidScope, UnauthorizedClient
from tests.oauth2.memory_store import MemClient

REGISTERED = ("https://app.example.com/cb", "http://127.0.0.1/cb", "http://[::1]:8000/native")
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize("uri", REGISTERED)
def test_registered_uri_matches_exactly(uri):
    assert authorize.match_redirect_uri(uri, REGISTERED)


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com.evil.com/cb",
        "https://app.example.com@evil.com/cb",
        "https://evil.com@app.example.com/cb",
        "https://app.example.com/cb/../x",
        "https://app.example.com/cb/./",
        "https://app.example.com/cb;p=1",
        "https://app.example.com/cb?x=1",
        "https://app.example.com/cb#f",
        "https://app.example.com/cb#",
        "https://app.example.com/CB",
        "https://APP.example.com/cb",
        "https://app.example.com/cb/",
        "https://app.example.com%2Fcb",
        "https://app.example.com/cb%2F..%2Fx",
        "https://app.example.com/%63b",
        "http://app.example.com/cb",
        "https://app.example.com:443/cb",
        "https://app.example.com/cb\x00",
        "https://app.example.com/cb\r\nLocation: https://evil.com",
        " https://app.example.com/cb",
        "http://localhost.evil.test/cb",
        "http://localhost/cb",
        "http://127.0.0.1.evil.test/cb",
        "http://127.0.0.1.evil.test:8080/cb",
        "http://user@127.0.0.1:8080/cb",
        "https://127.0.0.1:8080/cb",
        "//app.example.com/cb",
        "",
    ],
)
def test_anything_but_the_registered_string_is_rejected(uri):
    assert not authorize.match_redirect_uri(uri, REGISTERED)


@pytest.mark.parametrize("port", [1, 8080, 51234, 65535])
def test_loopback_may_vary_only_in_port(port):
    assert authorize.match_redirect_uri(f"http://127.0.0.1:{port}/cb", REGISTERED)
    assert authorize.match_redirect_uri(f"http://[::1]:{port}/native", REGISTERED)


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:8080/other",
        "http://127.0.0.1:8080/cb?x=1",
        "http://127.0.0.1:8080/cb/",
        "http://127.0.0.1:8080/cb#f",
        "http://127.0.0.1:99999/cb",
        "http://127.0.0.1:abc/cb",
        "http://127.0.0.1:-1/cb",
        "http://[::1]:8080/cb",  # the path registered for 127.0.0.1, on another loopback host
        "http://127.0.0.2:8080/cb",
    ],
)
def test_loopback_with_another_path_query_or_bad_port_is_rejected(uri):
    assert not authorize.match_redirect_uri(uri, REGISTERED)


# -- validate() ------------------------------------------------------------------
def params(**overrides):
    base = {
        "response_type": "code",
        "client_id": "c1",
        "redirect_uri": "https://app.example.com/cb",
        "scope": "read",
        "state": "xyz",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def client(**fields):
    fields.setdefault("redirect_uri_list", REGISTERED)
    return MemClient("c1", **fields)


def test_valid_request():
    request = authorize.validate(params(nonce="n-1"), client(secret="s"))
    assert (request.redirect_uri, request.scope, request.state, request.code_challenge, request.nonce) == (
        "https://app.example.com/cb", "read", "xyz", CHALLENGE, "n-1",
    )
    assert request.as_params()["code_challenge_method"] == "S256"


def test_unknown_or_inactive_client_is_shown_not_redirected():
    with pytest.raises(authorize.UnsafeRedirectError):
        authorize.validate(params(), None)
    with pytest.raises(authorize.UnsafeRedirectError):
        authorize.validate(params(), client(is_active=False))


@pytest.mark.parametrize("uri", ["https://app.example.com.evil.com/cb", "https://evil.com/cb"])
def test_unregistered_redirect_uri_is_shown_not_redirected(uri):
    with pytest.raises(authorize.UnsafeRedirectError):
        authorize.validate(params(redirect_uri=uri), client())


def test_missing_redirect_uri_uses_the_only_registered_one():
    single = client(redirect_uri_list=("https://app.example.com/cb",))
    assert authorize.validate(params(redirect_uri=None), single).redirect_uri == "https://app.example.com/cb"
    with pytest.raises(authorize.UnsafeRedirectError):
        authorize.validate(params(redirect_uri=None), client())


def test_loopback_request_keeps_the_requested_port():
    request = authorize.validate(params(redirect_uri="http://127.0.0.1:5555/cb"), client())
    assert request.redirect_uri == "http://127.0.0.1:5555/cb"


def redirect_error(p, c):
    with pytest.raises(authorize.RedirectError) as exc_info:
        authorize.validate(p, c)
    return exc_info.value


def test_errors_after_the_redirect_uri_is_verified_go_back_to_the_client_with_state():
    error = redirect_error(params(response_type="token"), client())
    assert error.location == (
        "https://app.example.com/cb?error=unsupported_response_type"
        "&error_description=Only+response_type%3Dcode+is+supported&state=xyz"
    )


def test_client_without_the_code_grant_is_unauthorized_client():
    error = redirect_error(params(), client(grant_type_list=("client_credentials",)))
    assert isinstance(error.error, UnauthorizedClient)


def test_scope_outside_the_client_allowance_is_invalid_scope():
    assert isinstance(redirect_error(params(scope="read admin"), client()).error, InvalidScope)


def test_public_client_must_use_pkce():
    error = redirect_error(params(code_challenge=None, code_challenge_method=None), client())
    assert isinstance(error.error, InvalidRequest)


def test_confidential_client_needs_pkce_only_when_configured():
    p = params(code_challenge=None, code_challenge_method=None)
    assert isinstance(redirect_error(p, client(secret="s")).error, InvalidRequest)
    assert authorize.validate(p, client(secret="s"), pkce_required_for_confidential=False).code_challenge == ""


@pytest.mark.parametrize("method", ["plain", None])
def test_plain_or_omitted_method_is_refused(method):
    assert isinstance(redirect_error(params(code_challenge_method=method), client()).error, InvalidRequest)


def test_redirect_uri_with_a_query_keeps_it():
    c = client(redirect_uri_list=("https://app.example.com/cb?tenant=1",))
    error = redirect_error(params(redirect_uri="https://app.example.com/cb?tenant=1", response_type="x"), c)
    assert error.location.startswith("https://app.example.com/cb?tenant=1&error=unsupported_response_type")


@pytest.mark.parametrize("uri", ["http://[/cb", "http://[::1/cb", "http://127.0.0.1:99999/cb", "http://[::1]:x/cb"])
def test_unparseable_redirect_uri_is_refused_not_raised(uri):
    assert authorize.match_redirect_uri(uri, ["http://127.0.0.1/cb", "http://[::1]/cb"]) is False
