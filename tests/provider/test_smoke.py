import pytest

pytestmark = pytest.mark.django_db


def test_client_credentials(flow):
    r = flow.token({"grant_type": "client_credentials", "scope": "read"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and "refresh_token" not in body
    assert r["Cache-Control"] == "no-store" and r["Pragma"] == "no-cache"
    me = flow.http.get("/api/me", HTTP_AUTHORIZATION="Bearer " + body["access_token"])
    assert me.status_code == 200, me.content
    assert me.json() == {"sub": flow.client.client_id, "client_id": flow.client.client_id, "scope": "read"}


def test_code_then_refresh(flow):
    tokens = flow.code_tokens(scope="read openid")
    assert tokens["refresh_token"] and tokens["id_token"]
    r = flow.refresh(tokens["refresh_token"])
    assert r.status_code == 200, r.content
    new = r.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    me = flow.http.get("/api/me", HTTP_AUTHORIZATION="Bearer " + new["access_token"])
    assert me.status_code == 200 and me.json()["sub"] == str(flow.user.pk)
