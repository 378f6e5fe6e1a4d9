"""GET/POST /oauth/userinfo (OpenID Connect Core section 5.3)."""

import pytest

pytestmark = pytest.mark.django_db


def userinfo(http, token, method="get"):
    return getattr(http, method)("/oauth/userinfo", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_claims_follow_the_granted_scopes(flow, user):
    user.first_name, user.last_name = "Alice", "Liddell"
    user.save()
    token = flow.code_tokens(scope="openid profile email")["access_token"]
    response = userinfo(flow.http, token)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response.json() == {
        "sub": str(user.pk), "preferred_username": "alice", "name": "Alice Liddell",
        "given_name": "Alice", "family_name": "Liddell", "email": "alice@example.test", "email_verified": False,
    }
    assert userinfo(flow.http, token, "post").json()["sub"] == str(user.pk)
    only_openid = flow.code_tokens(scope="openid")["access_token"]
    assert userinfo(flow.http, only_openid).json() == {"sub": str(user.pk)}


def test_without_openid_scope_is_insufficient_scope(flow):
    token = flow.code_tokens(scope="read")["access_token"]
    response = userinfo(flow.http, token)
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    assert 'scope="openid"' in response["WWW-Authenticate"]


def test_no_token_and_bad_tokens(flow):
    bare = flow.http.get("/oauth/userinfo")
    assert bare.status_code == 401 and bare["WWW-Authenticate"] == 'Bearer realm="api"'
    bad = userinfo(flow.http, "junk")
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"
    assert bad["Cache-Control"] == "no-store"


def test_client_credentials_token_has_no_user(flow):
    response = flow.token({"grant_type": "client_credentials", "scope": "openid read"})
    token = response.json()["access_token"]
    answer = userinfo(flow.http, token)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"


def test_revoked_token_is_refused(flow):
    token = flow.code_tokens(scope="openid")["access_token"]
    flow.http.post("/oauth/revoke", f"token={token}", content_type="application/x-www-form-urlencoded")
    assert userinfo(flow.http, token).status_code == 401


def test_token_in_header_and_form_body_is_invalid_request(flow):
    """RFC 6750 section 2: one method per request."""
    token = flow.code_tokens(scope="openid")["access_token"]
    response = flow.http.post(
        "/oauth/userinfo", f"access_token={token}", content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in response["WWW-Authenticate"]
    query = flow.http.get(f"/oauth/userinfo?access_token={token}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert query.status_code == 400
