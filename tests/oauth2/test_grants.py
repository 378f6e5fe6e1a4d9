"""The token endpoint flow against the in-memory store (RFC 6749 sections 2.3, 4.1.3,
4.4, 5.2, 6; RFC 9700 4.14.2; DESIGN.md section 4)."""

import json

import pytest

from oauth_tokens.oauth2 import pkce
from oauth_tokens.oauth2.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.oauth2.server import create_token_response

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
REDIRECT = "https://app.example.test/cb"


def post(store, params, *, client=None, secret=None, kind=None):
    """A JSON token request (as the seeds send it) with body credentials."""
    if client is not None:
        params = {"client_id": client.client_id, **params}
        if secret or client.secret:
            params["client_secret"] = secret or client.secret
    request = TokenRequest.build(
        content_type="application/json", body=json.dumps(params).encode(), subject_kind=kind
    )
    return create_token_response(request, store)[1]


@pytest.fixture
def conf(store):
    return store.add_client("conf", secret="s3cret")


@pytest.fixture
def pub(store):
    return store.add_client("pub", grant_type_list=("authorization_code", "refresh_token"))


def redeem(store, client, code, **extra):
    params = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
              "code_verifier": VERIFIER, **extra}
    return post(store, params, client=client)


def code_for(store, client, **fields):
    return store.add_code(client, challenge=pkce.s256(VERIFIER), method="S256", **fields)


# -- dispatch and client authentication --------------------------------------------
def test_unsupported_grant_type(store, conf):
    for grant_type in ("password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"):
        with pytest.raises(UnsupportedGrantType):
            post(store, {"grant_type": grant_type}, client=conf)


def test_missing_grant_type_is_invalid_request(store, conf):
    with pytest.raises(InvalidRequest, match="grant_type"):
        post(store, {}, client=conf)


@pytest.mark.parametrize("secret", ["wrong", "s3cret ", "S3CRET"])
def test_wrong_secret_is_invalid_client(store, conf, secret):
    with pytest.raises(InvalidClient):
        post(store, {"grant_type": "client_credentials"}, client=conf, secret=secret)


def test_unknown_inactive_or_anonymous_client_is_invalid_client(store, conf):
    with pytest.raises(InvalidClient):
        post(store, {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"})
    with pytest.raises(InvalidClient):
        post(store, {"grant_type": "client_credentials"})
    conf.is_active = False
    with pytest.raises(InvalidClient):
        post(store, {"grant_type": "client_credentials"}, client=conf)


def test_confidential_client_without_secret_is_invalid_client(store, conf):
    with pytest.raises(InvalidClient):
        post(store, {"grant_type": "client_credentials", "client_id": "conf"})


def test_public_client_sending_a_secret_is_invalid_client(store, pub):
    with pytest.raises(InvalidClient):
        post(store, {"grant_type": "refresh_token", "refresh_token": "x"}, client=pub, secret="guess")


def test_grant_not_allowed_for_the_client_is_unauthorized_client(store):
    only_cc = store.add_client("cc", secret="s", grant_type_list=("client_credentials",))
    with pytest.raises(UnauthorizedClient):
        post(store, {"grant_type": "refresh_token", "refresh_token": "x"}, client=only_cc)


# -- client_credentials ------------------------------------------------------------
def test_client_credentials_has_no_refresh_token(store, conf):
    tokens = post(store, {"grant_type": "client_credentials", "scope": "read"}, client=conf)
    assert tokens.refresh_token is None and tokens.scope == "read" and tokens.expires_in == 3600
    assert "refresh_token" not in tokens.to_dict()
    assert tokens.to_dict()["token_type"] == "Bearer"


def test_client_credentials_defaults_to_the_client_scope(store, conf):
    assert post(store, {"grant_type": "client_credentials"}, client=conf).scope == "read write openid"


def test_client_credentials_scope_outside_the_allowance_is_invalid_scope(store, conf):
    with pytest.raises(InvalidScope):
        post(store, {"grant_type": "client_credentials", "scope": "read admin"}, client=conf)


def test_public_client_cannot_use_client_credentials(store):
    public = store.add_client("pub-cc")  # public, yet configured with client_credentials
    with pytest.raises(UnauthorizedClient):
        post(store, {"grant_type": "client_credentials"}, client=public)


def test_token_type_path_must_match_the_grant(store, conf):
    assert post(store, {"grant_type": "client_credentials"}, client=conf, kind="client").access_token
    with pytest.raises(InvalidRequest):
        post(store, {"grant_type": "client_credentials"}, client=conf, kind="user")
    with pytest.raises(InvalidRequest):
        post(store, {"grant_type": "client_credentials"}, client=conf, kind="robot")
    with pytest.raises(InvalidRequest):
        post(store, {"grant_type": "refresh_token", "refresh_token": "x"}, client=conf, kind="client")
    with pytest.raises(InvalidRequest):
        post(store, {"grant_type": "authorization_code", "code": "x"}, client=conf, kind="client")


# -- authorization_code ------------------------------------------------------------
def test_code_exchange(store, conf):
    tokens = redeem(store, conf, code_for(store, conf, scope="read write"))
    assert tokens.scope == "read write" and tokens.refresh_token and tokens.access_token


def test_code_for_a_client_without_refresh_grant_gives_no_refresh_token(store):
    client = store.add_client("norefresh", secret="s", grant_type_list=("authorization_code",))
    assert redeem(store, client, code_for(store, client)).refresh_token is None


def test_code_exchange_for_a_public_client_with_pkce(store, pub):
    assert redeem(store, pub, code_for(store, pub)).access_token


def test_unknown_code(store, conf):
    with pytest.raises(InvalidGrant):
        redeem(store, conf, "no-such-code")


def test_code_redeemed_by_another_client_is_invalid_grant(store, conf, pub):
    code = code_for(store, pub)
    with pytest.raises(InvalidGrant):
        redeem(store, conf, code)
    assert redeem(store, pub, code).access_token  # not burnt by the attempt


def test_expired_code_is_invalid_grant(store, conf):
    code = code_for(store, conf, ttl=60)
    store.advance(60)
    with pytest.raises(InvalidGrant):
        redeem(store, conf, code)


def test_redirect_uri_must_be_identical(store, conf):
    code = code_for(store, conf)
    with pytest.raises(InvalidGrant, match="redirect_uri"):
        redeem(store, conf, code, redirect_uri=REDIRECT + "/")


def test_redirect_uri_is_required_without_pkce(store):
    client = store.add_client("legacy", secret="s")
    code = store.add_code(client)
    params = {"grant_type": "authorization_code", "code": code}
    with pytest.raises(InvalidRequest, match="redirect_uri"):
        post(store, params, client=client)
    assert post(store, {**params, "redirect_uri": REDIRECT}, client=client).access_token


def test_wrong_verifier_is_invalid_grant_and_does_not_burn_the_code(store, conf):
    code = code_for(store, conf)
    with pytest.raises(InvalidGrant):
        redeem(store, conf, code, code_verifier="x" * 43)
    assert redeem(store, conf, code).access_token


def test_missing_verifier_is_invalid_request(store, conf):
    code = code_for(store, conf)
    with pytest.raises(InvalidRequest, match="code_verifier"):
        post(store, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}, client=conf)


def test_verifier_without_challenge_is_a_downgrade(store, conf):
    code = store.add_code(conf)  # the authorization request carried no challenge
    with pytest.raises(InvalidRequest, match="code_challenge"):
        redeem(store, conf, code)


def test_code_replay_with_valid_auth_and_verifier_revokes_what_it_issued(store, conf):
    code = code_for(store, conf)
    first = redeem(store, conf, code)
    with pytest.raises(InvalidGrant):
        redeem(store, conf, code)
    assert store.access(first.access_token).revoked_at is not None
    assert store.find_refresh_token(first.refresh_token).revoked_at is not None
    assert store.events[-1][0] == "code_replay"
    with pytest.raises(InvalidGrant):
        post(store, {"grant_type": "refresh_token", "refresh_token": first.refresh_token}, client=conf)


def test_code_replay_with_a_wrong_verifier_revokes_nothing(store, conf):
    code = code_for(store, conf)
    first = redeem(store, conf, code)
    with pytest.raises(InvalidGrant):
        redeem(store, conf, code, code_verifier="y" * 43)
    assert store.access(first.access_token).revoked_at is None
    assert store.find_refresh_token(first.refresh_token).revoked_at is None


def test_code_replay_by_another_client_revokes_nothing(store, conf, pub):
    code = code_for(store, conf)
    first = redeem(store, conf, code)
    with pytest.raises(InvalidGrant):
        redeem(store, pub, code)
    assert store.access(first.access_token).revoked_at is None


# -- refresh_token -------------------------------------------------------------------
def refresh(store, client, token, **extra):
    return post(store, {"grant_type": "refresh_token", "refresh_token": token, **extra}, client=client)


@pytest.fixture
def first(store, conf):
    return redeem(store, conf, code_for(store, conf, scope="read write"))


def test_rotation_issues_a_new_pair_in_the_same_family(store, conf, first):
    second = refresh(store, conf, first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    old, new = store.find_refresh_token(first.refresh_token), store.find_refresh_token(second.refresh_token)
    assert old.used_at is not None and new.family == old.family and new.parent is old
    assert store.live_refresh_tokens(old.family) == [new]


def test_retry_inside_the_grace_window_returns_the_same_pair(store, conf, first):
    second = refresh(store, conf, first.refresh_token)
    store.advance(9)
    again = refresh(store, conf, first.refresh_token)
    assert (again.access_token, again.refresh_token) == (second.access_token, second.refresh_token)
    assert again.expires_in == second.expires_in - 9
    assert len(store.live_refresh_tokens(store.find_refresh_token(first.refresh_token).family)) == 1
    assert refresh(store, conf, second.refresh_token).access_token  # the family is intact


def test_reuse_after_the_grace_window_revokes_the_family(store, conf, first):
    second = refresh(store, conf, first.refresh_token)
    store.advance(11)
    with pytest.raises(InvalidGrant, match="already used"):
        refresh(store, conf, first.refresh_token)
    assert store.events[-1][0] == "reuse"
    assert store.access(second.access_token).revoked_at is not None
    assert store.access(first.access_token).revoked_at is not None
    # The holder of the newest token is told why its grant ended (still invalid_grant).
    with pytest.raises(InvalidGrant, match="revoked because an earlier refresh token of it was used again"):
        refresh(store, conf, second.refresh_token)


def test_a_token_revoked_for_another_reason_is_not_said_to_be_reused(store, conf, first):
    second = refresh(store, conf, first.refresh_token)
    store.revoke_family(store.find_refresh_token(second.refresh_token), reason="revoked")
    with pytest.raises(InvalidGrant, match="invalid or has expired"):
        refresh(store, conf, second.refresh_token)


def test_a_replay_beyond_the_stores_cap_revokes_the_family(store, conf, first):
    second = refresh(store, conf, first.refresh_token)
    assert refresh(store, conf, first.refresh_token).refresh_token == second.refresh_token
    with pytest.raises(InvalidGrant, match="already used"):
        refresh(store, conf, first.refresh_token)  # the store allows one replay
    assert [kind for kind, _ in store.events[-2:]] == ["grace_replay", "reuse"]
    assert store.access(second.access_token).revoked_at is not None


def test_a_token_of_a_family_past_its_end_is_refused_without_rotating(store, conf, first):
    store.family_lifetime = 3600  # shortened after the family began
    store.advance(3600)
    with pytest.raises(InvalidGrant, match="maximum lifetime"):
        refresh(store, conf, first.refresh_token)
    assert store.find_refresh_token(first.refresh_token).used_at is None
    assert store.events[-1][0] != "reuse"


def test_retry_with_the_grandparent_revokes_the_family(store, conf, first):
    second = refresh(store, conf, first.refresh_token)
    third = refresh(store, conf, second.refresh_token)
    with pytest.raises(InvalidGrant):
        refresh(store, conf, first.refresh_token)
    with pytest.raises(InvalidGrant):
        refresh(store, conf, third.refresh_token)


def test_wider_scope_is_invalid_scope(store, conf, first):
    with pytest.raises(InvalidScope):
        refresh(store, conf, first.refresh_token, scope="read write openid")
    assert refresh(store, conf, first.refresh_token).scope == "read write"  # not burnt


def test_narrower_scope_is_fine_and_the_family_keeps_the_grant_scope(store, conf, first):
    narrow = refresh(store, conf, first.refresh_token, scope="read")
    assert narrow.scope == "read"
    assert store.find_refresh_token(narrow.refresh_token).scope == "read write"
    assert refresh(store, conf, narrow.refresh_token, scope="write").scope == "write"


def test_refresh_token_is_bound_to_its_client(store, conf, first):
    other = store.add_client("other", secret="x")
    with pytest.raises(InvalidGrant):
        refresh(store, other, first.refresh_token)
    assert store.find_refresh_token(first.refresh_token).used_at is None  # not burnt, not revoked
    assert store.find_refresh_token(first.refresh_token).revoked_at is None


def test_expired_refresh_token_is_invalid_grant(store, conf, first):
    store.advance(30 * 86400)
    with pytest.raises(InvalidGrant, match="expired"):
        refresh(store, conf, first.refresh_token)


def test_unknown_and_missing_refresh_token(store, conf):
    with pytest.raises(InvalidGrant):
        refresh(store, conf, "nope")
    with pytest.raises(InvalidRequest, match="refresh_token"):
        post(store, {"grant_type": "refresh_token"}, client=conf)


def test_public_client_refreshes_with_its_id_only(store, pub):
    tokens = redeem(store, pub, code_for(store, pub))
    assert refresh(store, pub, tokens.refresh_token).refresh_token
