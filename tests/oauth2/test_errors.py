"""Errors as data (RFC 6749 section 5.2, RFC 6750 section 3)."""

import pytest

from oauth_tokens.oauth2 import errors
from oauth_tokens.oauth2.errors import (
    InsufficientScope,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidToken,
    TooManyRequests,
    UnauthorizedClient,
    UnsupportedGrantType,
    bearer_challenge,
)

#: RFC 6749 5.2: error and error_description use %x20-21 / %x23-5B / %x5D-7E only.
ALLOWED = {chr(c) for c in range(0x20, 0x7F)} - {'"', "\\"}


@pytest.mark.parametrize(
    "error, code, status",
    [
        (InvalidRequest(), "invalid_request", 400),
        (InvalidClient(), "invalid_client", 401),
        (InvalidGrant(), "invalid_grant", 400),
        (UnauthorizedClient(), "unauthorized_client", 400),
        (UnsupportedGrantType(), "unsupported_grant_type", 400),
        (InvalidScope(), "invalid_scope", 400),
        (InvalidToken(), "invalid_token", 401),
        (InsufficientScope(), "insufficient_scope", 403),
    ],
)
def test_codes_and_statuses(error, code, status):
    body = error.to_dict()
    assert body["error"] == code and error.status_code == status
    assert body["error_description"] and set(body["error_description"]) <= ALLOWED


def test_invalid_client_challenges_basic_only_when_basic_was_used():
    assert InvalidClient(used_basic=True).headers() == {"WWW-Authenticate": 'Basic realm="oauth"'}
    assert InvalidClient().headers() == {}


def test_status_can_be_overridden_per_instance():
    assert InvalidRequest("too big", status_code=413).status_code == 413
    assert InvalidRequest().status_code == 400


def test_throttle_error_has_retry_after():
    error = TooManyRequests(retry_after=0)
    assert error.status_code == 429 and error.headers() == {"Retry-After": "1"}
    assert TooManyRequests(retry_after=60).headers() == {"Retry-After": "60"}


@pytest.mark.parametrize("value", ['pass"word', "back\\slash", "caf\u00e9", "nul\x00", "new\r\nline", "\u2028"])
def test_descriptions_echoing_input_stay_within_the_allowed_characters(value):
    body = UnsupportedGrantType(f"Unsupported grant_type {value!r}").to_dict()
    assert set(body["error_description"]) <= ALLOWED
    assert body["error_description"].startswith("Unsupported grant_type")


def test_long_descriptions_are_truncated():
    body = UnsupportedGrantType("Unsupported grant_type " + "x" * 20000).to_dict()
    assert len(body["error_description"]) <= 300


def test_bearer_challenge_quotes_safely_and_lists_each_attribute_once():
    value = bearer_challenge("invalid_token", 'bad "token"\\', scope="read write")
    assert value == 'Bearer realm="api", error="invalid_token", error_description="bad token", scope="read write"'
    assert bearer_challenge() == 'Bearer realm="api"'


def test_bearer_errors_point_to_the_resource_metadata_once_it_is_set():
    """RFC 9728 section 5.1: ``resource_metadata`` in the challenge of every bearer error."""
    url = "https://api.example.com/.well-known/oauth-protected-resource"
    assert bearer_challenge(resource_metadata=url) == f'Bearer realm="api", resource_metadata="{url}"'
    scope = errors.InsufficientScope(scope="read")
    assert "resource_metadata" not in scope.headers()["WWW-Authenticate"]
    scope.resource_metadata = url
    assert scope.headers()["WWW-Authenticate"].endswith(f'scope="read", resource_metadata="{url}"')
    token = errors.InvalidToken()
    token.resource_metadata = url
    assert token.headers()["WWW-Authenticate"].endswith(f'resource_metadata="{url}"')


def test_every_error_class_is_an_oauth2_error():
    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == errors.__name__:
            assert issubclass(obj, errors.OAuth2Error)
