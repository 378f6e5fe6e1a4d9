"""Client metadata of dynamic registration (RFC 7591 section 2), without a database."""

import pytest

from oauth_tokens.oauth2.registration import (
    ClientMetadata,
    InvalidClientMetadata,
    InvalidRedirectUri,
    InvalidSoftwareStatement,
    RegistrationPolicy,
    parse_metadata,
    redirect_uri_problem,
)

OPEN = RegistrationPolicy(auth_methods=("none",), grant_types=("authorization_code", "refresh_token"),
                          scopes=("read", "write"))
CB = "https://app.example.test/cb"


def test_defaults_follow_the_rfc_and_the_policy():
    meta = parse_metadata({"redirect_uris": [CB]}, OPEN)
    assert meta == ClientMetadata(client_name="", token_endpoint_auth_method="none",
                                  grant_types=("authorization_code",), response_types=("code",),
                                  redirect_uris=(CB,), scope=("read", "write"), extra={})
    assert not meta.is_confidential


def test_client_secret_basic_is_the_default_where_it_is_allowed():
    policy = RegistrationPolicy(auth_methods=("none", "client_secret_basic"), scopes=("read",))
    meta = parse_metadata({"redirect_uris": [CB]}, policy)
    assert meta.token_endpoint_auth_method == "client_secret_basic" and meta.is_confidential


def test_duplicates_are_dropped_and_extra_metadata_kept():
    meta = parse_metadata({"redirect_uris": [CB, CB], "grant_types": ["authorization_code", "authorization_code"],
                           "contacts": ["a@example.test"], "tos_uri": "https://app.example.test/tos",
                           "client_name": "  App  ", "x-custom": 1}, OPEN)
    assert meta.redirect_uris == (CB,) and meta.grant_types == ("authorization_code",)
    assert meta.extra == {"contacts": ["a@example.test"], "tos_uri": "https://app.example.test/tos"}
    assert meta.client_name == "App"


@pytest.mark.parametrize("body, error", [
    ({"software_statement": "x.y.z"}, InvalidSoftwareStatement),
    ({"token_endpoint_auth_method": "private_key_jwt"}, InvalidClientMetadata),
    ({"grant_types": ["client_credentials"], "response_types": []}, InvalidClientMetadata),
    ({"redirect_uris": ["http://app.example.test/cb"]}, InvalidRedirectUri),
    ({"redirect_uris": [CB], "scope": "admin"}, InvalidClientMetadata),
])
def test_refusals_name_the_rfc_error(body, error):
    with pytest.raises(error):
        parse_metadata(body, OPEN)


@pytest.mark.parametrize("uri, custom, ok", [
    ("https://a.example.test/cb", False, True),
    ("http://127.0.0.1:9/cb", False, True),
    ("http://127.0.0.2:9/cb", False, False),  # the loopback hosts the admin accepts, no others
    ("http://[::1]:9/cb", False, True),
    ("http://localhost.evil.example/cb", False, False),
    ("HTTPS://a.example.test/cb", False, True),
    ("com.example.app:/cb", False, False),
    ("com.example.app:/cb", True, True),
    ("app:/cb", True, False),
    ("https://a.example.test/cb#x", True, False),
])
def test_redirect_uri_rules(uri, custom, ok):
    assert (redirect_uri_problem(uri, custom_schemes=custom) is None) is ok
