"""BearerTokenAuthentication through real DRF views: RFC 6750 errors, RFC 9068
checks, no query per request, a user loaded only when the view touches it."""

import time
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from oauth_tokens.provider import local_verifier, models
from tests.resource import jwt_factory
from tests.resource.conftest import BARE_CHALLENGE, bearer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.resource.urls")]


def test_client_credentials_token_reaches_the_view(client, issue):
    token = issue(scope="read write")
    response = client.get("/t/token-only", **bearer(token))
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "read write" and response.json()["authenticated"] is True


def test_no_credentials_gives_a_bare_challenge(client):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == BARE_CHALLENGE
    assert "error" not in response.json()


def test_other_schemes_are_not_ours(client, issue):
    token = issue()
    for header in (f"BearerX {token}", f"Basic {token}", f"Token {token}", token):
        response = client.get("/api/me", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == BARE_CHALLENGE, header


def test_scheme_is_case_insensitive(client, issue):
    token = issue()
    for scheme in ("bearer", "BEARER", "BeArEr"):
        assert client.get("/api/me", HTTP_AUTHORIZATION=f"{scheme} {token}").status_code == 200


def test_empty_bearer_is_invalid_request(client):
    for header in ("Bearer", "Bearer ", "Bearer    "):
        response = client.get("/api/me", HTTP_AUTHORIZATION=header)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
        assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_request"')


def test_invalid_token_is_401_with_error_and_description(client):
    response = client.get("/api/me", **bearer("not-a-jwt"))
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": "The access token is malformed"}
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="The access token is malformed"'
    )


def test_expired_token_says_so_in_the_seed_wording(client, issue):
    token = issue()
    assert client.get("/api/me", **bearer(token)).status_code == 200  # now cached
    later = timezone.now() + timedelta(seconds=3600 + 31)
    with mock.patch.object(models, "now", return_value=later):
        response = client.get("/api/me", **bearer(token))
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": "The access token has expired"}
    assert 'error_description="The access token has expired"' in response["WWW-Authenticate"]


def test_token_signed_by_us_with_foreign_claims_is_refused(client, signing_key):
    kid, algorithm, private = signing_key
    cases = {
        "another server": jwt_factory.claims(iss="https://auth.example.test.evil.test"),
        "another audience": jwt_factory.claims(aud="https://api.elsewhere.test"),
        "'jti'": jwt_factory.claims(jti=None),
        "'client_id'": jwt_factory.claims(client_id=None),
        "not yet valid": jwt_factory.claims(nbf=int(time.time()) + 300),
    }
    for expected, payload in cases.items():
        token = jwt_factory.sign(payload, private, kid=kid, alg=algorithm)
        response = client.get("/api/me", **bearer(token))
        assert response.status_code == 401 and expected in response.json()["error_description"], expected
    id_token_like = jwt_factory.sign(jwt_factory.claims(), private, kid=kid, alg=algorithm, typ="JWT")
    assert client.get("/api/me", **bearer(id_token_like)).json()["error_description"] == (
        "The access token has the wrong type"
    )


def test_alg_none_and_forged_headers_are_refused(client, signing_key):
    kid, algorithm, private = signing_key
    for token in (
        jwt_factory.unsigned(jwt_factory.claims(), kid=kid),
        jwt_factory.sign(jwt_factory.claims(), private, kid=kid, alg=algorithm, jku="https://evil.test/k"),
        jwt_factory.sign(jwt_factory.claims(), private, kid="unknown-kid", alg=algorithm),
    ):
        response = client.get("/api/me", **bearer(token))
        assert response.status_code == 401 and response.json()["error"] == "invalid_token"


@pytest.mark.slow
def test_hostile_headers_are_fast_4xx_never_500(client):
    """Each answered within a second: a few milliseconds normally (the margin is for
    a busy machine); a parse that backtracks or goes quadratic on 100 kB takes far longer."""
    assert client.get("/api/me").status_code == 401  # the first request's one-time set-up is not timed
    hostile = [
        "Bearer " + "A" * 100_000,
        "Bearer " + "eyJ" * 40_000,
        "Bearer \x00\x01\x02",
        "Bearer ÿþý.ÿ.ÿ",
        "Bearer a b c",
        "Bearer " + "a.b.c" * 3000,
        "Bearer ....",
        "Bearer \t",
    ]
    for header in hostile:
        started = time.perf_counter()
        response = client.get("/api/me", HTTP_AUTHORIZATION=header)
        assert response.status_code in (400, 401), (header[:20], response.status_code)
        assert time.perf_counter() - started < 1.0
        assert "WWW-Authenticate" in response


def test_token_in_header_and_query_is_invalid_request(client, issue):
    token = issue()
    response = client.get(f"/api/me?access_token={token}", **bearer(token))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "more than one method" in response.json()["error_description"]


def test_token_in_header_and_form_body_is_invalid_request(client, issue):
    token = issue(scope="orders:read orders:write")
    form = "application/x-www-form-urlencoded"
    response = client.post("/t/orders", f"access_token={token}&x=1", content_type=form, **bearer(token))
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    ok = client.post("/t/orders", "x=1", content_type=form, **bearer(token))
    assert ok.status_code == 201 and ok.json()["data"] == {"x": ["1"]}  # the body is still readable


def test_query_only_token_is_refused(client, issue):
    token = issue()
    response = client.get(f"/api/me?access_token={token}")
    assert response.status_code == 400
    assert "Authorization header" in response.json()["error_description"]


def test_body_only_token_counts_as_no_credentials(client, issue):
    token = issue(scope="orders:write")
    form = "application/x-www-form-urlencoded"
    response = client.post("/t/orders", f"access_token={token}", content_type=form)
    assert response.status_code == 401 and response["WWW-Authenticate"] == BARE_CHALLENGE


def test_missing_scope_is_403_insufficient_scope_with_scope(client, issue):
    token = issue(scope="write")
    response = client.get("/api/me", **bearer(token))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="The access token does not carry the required scope", scope="read"'
    )


def test_has_any_scope(client, issue):
    assert client.get("/t/any", **bearer(issue(scope="write"))).status_code == 200
    response = client.get("/t/any", **bearer(issue(scope="read")))
    assert response.status_code == 403 and 'scope="admin write"' in response["WWW-Authenticate"]


def test_read_write_scope_maps_methods(client, issue):
    reader = issue(scope="orders:read")
    assert client.get("/t/orders", **bearer(reader)).status_code == 200
    response = client.post("/t/orders", {}, **bearer(reader))
    assert response.status_code == 403 and 'scope="orders:write"' in response["WWW-Authenticate"]
    writer = issue(scope="orders:write")
    assert client.post("/t/orders", {}, **bearer(writer)).status_code == 201
    assert client.get("/t/orders", **bearer(writer)).status_code == 403
    assert client.get("/t/rw", **bearer(issue(scope="read"))).status_code == 200
    assert client.delete("/t/rw", **bearer(issue(scope="read"))).status_code == 403
    assert client.delete("/t/rw", **bearer(issue(scope="write"))).status_code == 204


def test_a_view_without_declared_scopes_is_a_configuration_error(client, issue):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        client.get("/t/undeclared", **bearer(issue()))


def test_zero_queries_per_request_and_no_user_query_unless_touched(client, issue, alice,
                                                                    django_assert_num_queries):
    token = issue(scope="read", user=alice)
    assert client.get("/api/me", **bearer(token)).status_code == 200  # first use: keys, revocation state
    with django_assert_num_queries(0):
        for _ in range(20):
            response = client.get("/api/me", **bearer(token))
            assert response.status_code == 200
    assert response.json() == {"sub": str(alice.pk), "client_id": response.json()["client_id"], "scope": "read"}
    with django_assert_num_queries(1):
        response = client.get("/t/whoami", **bearer(token))
    assert response.json() == {"username": "alice", "user_id": alice.pk}


def test_client_credentials_token_user_is_a_client_principal(client, issue):
    token = issue(scope="read")
    response = client.get("/t/whoami", **bearer(token))
    assert response.status_code == 200 and response.json() == {"username": "", "user_id": None}


def test_deleted_user_is_refused_when_the_view_touches_the_user(client, issue, alice):
    token = issue(scope="read", user=alice)
    type(alice).objects.filter(pk=alice.pk).update(is_active=False)  # bypasses signals on purpose
    response = client.get("/t/whoami", **bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert "no longer exists or is inactive" in response["WWW-Authenticate"]


def test_verification_is_cached_per_token_string(client, issue):
    token = issue()
    verifier = local_verifier.verifier()
    misses = verifier.misses
    for _ in range(5):
        assert client.get("/api/me", **bearer(token)).status_code == 200
    assert verifier.misses == misses + 1


def test_unknown_kid_does_not_hammer_the_key_table(client, signing_key, django_assert_max_num_queries):
    kid, algorithm, private = signing_key
    client.get("/api/me", **bearer(jwt_factory.sign(jwt_factory.claims(), private, kid=kid, alg=algorithm)))
    with django_assert_max_num_queries(3):
        for _ in range(30):
            junk = jwt_factory.sign(jwt_factory.claims(), private, kid=uuid.uuid4().hex, alg=algorithm)
            assert client.get("/api/me", **bearer(junk)).status_code == 401
