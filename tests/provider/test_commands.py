"""Management commands: createclient (DESIGN.md section 6), cleartokens, rotatekeys."""

import json
from datetime import timedelta
from io import StringIO
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from oauth_tokens.provider import keys
from oauth_tokens.provider.models import AccessToken, AuthorizationCode, Client, RefreshToken, SigningKey
from tests.conftest import REDIRECT, VERIFIER, Flow, basic
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def clock(offset: timedelta):
    return mock.patch("django.utils.timezone.now", return_value=timezone.now() + offset)


def client_credentials(http, client_id, secret, **extra):
    return http.post(
        "/oauth/token",
        urlencode({"grant_type": "client_credentials", **extra}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(client_id, secret),
    )


# -- createclient -----------------------------------------------------------------------


def test_createclient_json_prints_a_working_secret(client):
    out = run("createclient", "Worker", "--grant-types", "client_credentials", "--scope", "read write", "--json")
    data = json.loads(out)
    assert set(data) == {"client_id", "client_secret"}
    row = Client.objects.get(client_id=data["client_id"])
    assert row.name == "Worker" and row.is_confidential
    assert row.grant_type_list == ["client_credentials"] and row.scope == "read write"
    assert data["client_secret"] not in row.secret_digest
    response = client_credentials(client, data["client_id"], data["client_secret"], scope="write")
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "write"


def test_createclient_text_output_shows_id_and_secret_once(client, user):
    out = run(
        "createclient", "My app", "--grant-types", "authorization_code,refresh_token",
        "--redirect-uri", REDIRECT, "--scope", "read write",
    )
    row = Client.objects.get(name="My app")
    lines = dict(line.split(":", 1) for line in out.splitlines() if line.startswith("client_"))
    assert lines["client_id"].strip() == row.client_id
    secret = lines["client_secret"].strip()
    assert "cannot be shown again" in out
    row.secret = secret
    tokens = Flow(client, row, user).code_tokens(scope="read")
    assert tokens["refresh_token"]


def test_createclient_several_redirect_uris_and_grants():
    data = json.loads(run(
        "createclient", "Multi", "--grant-types", "authorization_code, refresh_token ,client_credentials",
        "--redirect-uri", "https://a.example.test/cb", "--redirect-uri", "http://127.0.0.1/cb", "--json",
    ))
    row = Client.objects.get(client_id=data["client_id"])
    assert row.grant_type_list == ["authorization_code", "refresh_token", "client_credentials"]
    assert row.redirect_uri_list == ["https://a.example.test/cb", "http://127.0.0.1/cb"]


def test_createclient_limits_the_client_to_its_resources():
    data = json.loads(run(
        "createclient", "MCP worker", "--grant-types", "client_credentials",
        "--resource", "https://example.test/mcp", "--resource", "https://api.example.test", "--json",
    ))
    row = Client.objects.get(client_id=data["client_id"])
    assert row.resource_list == ["https://example.test/mcp", "https://api.example.test"]
    assert row.allows_resource("https://api.example.test") and not row.allows_resource("https://other.test")
    with pytest.raises(CommandError, match="--resource: .*fragment"):
        run("createclient", "Bad", "--grant-types", "client_credentials", "--resource", "https://x.test/#f")
    assert not Client.objects.filter(name="Bad").exists()


def test_createclient_public_has_no_secret(client, user):
    data = json.loads(run(
        "createclient", "SPA", "--public", "--grant-types", "authorization_code,refresh_token",
        "--redirect-uri", REDIRECT, "--json",
    ))
    assert data["client_secret"] is None
    row = Client.objects.get(client_id=data["client_id"])
    assert not row.is_confidential and row.secret_digest == ""
    flow = Flow(client, row, user)
    code = flow.authorize()
    response = flow.token({"grant_type": "authorization_code", "client_id": row.client_id, "code": code,
                           "redirect_uri": REDIRECT, "code_verifier": VERIFIER})
    assert response.status_code == 200, response.content


def test_createclient_public_text_output_has_no_secret_line():
    out = run("createclient", "SPA", "--public", "--grant-types", "authorization_code",
              "--redirect-uri", REDIRECT)
    assert "client_id" in out and "client_secret" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grant-types", "password"], "Unknown grant type(s): password"),
        (["--grant-types", "client_credentials,implicit"], "implicit"),
        (["--grant-types", ","], "Unknown grant type"),
        (["--grant-types", "client_credentials", "--public"], "public client cannot use client_credentials"),
        (["--grant-types", "authorization_code"], "needs --redirect-uri"),
        (["--grant-types", "authorization_code", "--redirect-uri", "http://app.example.test/cb"], "plain http"),
        (["--grant-types", "authorization_code", "--redirect-uri", "https://app.example.test/cb#x"], "fragment"),
        (["--grant-types", "authorization_code", "--redirect-uri", "cb"], "absolute"),
        (["--grant-types", "authorization_code", "--redirect-uri", "https://u@app.example.test/cb"], "user"),
        (["--grant-types", "client_credentials", "--scope", 'read "write"'], "scope"),
        (["--grant-types", "client_credentials", "--scope", " "], "scope"),
    ],
)
def test_createclient_errors(args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run("createclient", "Bad", *args)
    assert Client.objects.count() == 0


def test_createclient_empty_name_is_an_error():
    with pytest.raises(CommandError, match="name"):
        run("createclient", "  ", "--grant-types", "client_credentials")


# -- cleartokens ------------------------------------------------------------------------


def make_family(http, oauth_client, user, rotations=0):
    flow = Flow(http, oauth_client, user)
    tokens = [flow.code_tokens()]
    for _ in range(rotations):
        tokens.append(flow.refresh(tokens[-1]["refresh_token"]).json())
    return flow, tokens


def test_cleartokens_deletes_expired_rows_in_batches(client, user):
    oauth_client = ClientFactory()
    # 7 old families (each: 1 code, 2 refresh tokens, 2 access tokens) and 7 client tokens.
    flow = Flow(client, oauth_client, user)
    with clock(-timedelta(days=40)):
        for _ in range(7):
            make_family(client, oauth_client, user, rotations=1)
            flow.token({"grant_type": "client_credentials"})
    live_flow, live = make_family(client, oauth_client, user, rotations=1)
    assert RefreshToken.objects.count() == 16 and AccessToken.objects.count() == 23
    assert AuthorizationCode.objects.count() == 8
    deletes = []
    from django.db.models.query import QuerySet

    real_delete = QuerySet.delete

    def counting_delete(self):
        if self.model in (AccessToken, RefreshToken, AuthorizationCode):
            deletes.append((self.model.__name__, self.count()))
        return real_delete(self)

    with mock.patch.object(QuerySet, "delete", counting_delete):
        out = run("cleartokens", "--batch-size", "2")
    assert "7 authorization codes" in out and "21 access tokens" in out and "14 refresh tokens" in out
    assert max(n for _, n in deletes) <= 2 and len(deletes) >= (7 + 21 + 14) // 2
    assert RefreshToken.objects.count() == 2 and AccessToken.objects.count() == 2
    # The live family still works, and so does its reuse detection.
    assert live_flow.refresh(live[-1]["refresh_token"]).status_code == 200


def expired_tombstone_of_live_family(client, user):
    """A family whose first refresh token was rotated and has since expired; its successor lives."""
    oauth_client = ClientFactory(refresh_token_lifetime=3600)
    flow, tokens = make_family(client, oauth_client, user)
    with clock(timedelta(minutes=59)):
        second = flow.refresh(tokens[0]["refresh_token"]).json()
    return flow, tokens[0], second


def test_cleartokens_keeps_tombstones_of_a_live_family(client, user):
    flow, first, second = expired_tombstone_of_live_family(client, user)
    with clock(timedelta(minutes=90)):
        out = run("cleartokens", "--batch-size", "2")
        assert "0 refresh tokens" in out
        assert RefreshToken.objects.count() == 2  # the expired tombstone is kept
        assert flow.refresh(second["refresh_token"]).status_code == 200
    # Once the whole family has expired, it goes.
    with clock(timedelta(hours=4)):
        assert "3 refresh tokens" in run("cleartokens", "--batch-size", "2")
    assert RefreshToken.objects.count() == 0


def test_cleartokens_keeps_rotated_tombstones_for_reuse_detection(client, user):
    flow, tokens = make_family(client, ClientFactory(), user, rotations=2)
    run("cleartokens", "--batch-size", "1")
    assert RefreshToken.objects.count() == 3
    with clock(timedelta(seconds=60)):  # past the grace window
        reuse = flow.refresh(tokens[0]["refresh_token"])
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
        assert flow.refresh(tokens[2]["refresh_token"]).status_code == 400  # the family was revoked


def test_reuse_of_an_expired_tombstone_still_revokes_the_family(client, user):
    flow, first, second = expired_tombstone_of_live_family(client, user)
    with clock(timedelta(minutes=90)):
        run("cleartokens", "--batch-size", "2")
        assert flow.refresh(first["refresh_token"]).status_code == 400
        assert flow.refresh(second["refresh_token"]).status_code == 400


def test_cleartokens_keeps_revoked_rows_until_they_expire(client, user):
    """A revoked access token's row is what keeps it revoked: it stays until the JWT is dead."""
    oauth_client = ClientFactory(access_token_lifetime=600)
    flow = Flow(client, oauth_client, None)
    tokens = flow.token({"grant_type": "client_credentials"}).json()
    AccessToken.objects.update(revoked_at=timezone.now())
    with clock(timedelta(seconds=590)):
        run("cleartokens")
    assert AccessToken.objects.count() == 1
    # Just expired, but still inside the verifier's leeway: kept.
    with clock(timedelta(seconds=605)):
        run("cleartokens")
    assert AccessToken.objects.count() == 1
    with clock(timedelta(seconds=700)):
        run("cleartokens")
    assert AccessToken.objects.count() == 0
    assert tokens["access_token"]


def test_cleartokens_drops_expired_grace_responses(client, user):
    oauth_client = ClientFactory()
    flow, tokens = make_family(client, oauth_client, user, rotations=1)
    assert RefreshToken.objects.exclude(successor_response="").count() == 1
    run("cleartokens")
    assert RefreshToken.objects.exclude(successor_response="").count() == 1  # still inside the window
    with clock(timedelta(seconds=11)):
        run("cleartokens")
    assert RefreshToken.objects.exclude(successor_response="").count() == 0


def test_cleartokens_rejects_a_bad_batch_size():
    for bad in ("0", "-1"):
        with pytest.raises(CommandError):
            run("cleartokens", "--batch-size", bad)


def test_cleartokens_on_an_empty_database():
    assert run("cleartokens") == "0 authorization codes, 0 access tokens, 0 refresh tokens deleted.\n"


# -- rotatekeys -----------------------------------------------------------------------------


def validate(http, access_token):
    return http.get("/oauth/token", HTTP_AUTHORIZATION="Bearer " + access_token)


def kids() -> set[str]:
    return {k["kid"] for k in keys.jwks()["keys"]}


def test_rotatekeys_keeps_old_key_published_until_its_tokens_expire(client):
    oauth_client = ClientFactory()
    flow = Flow(client, oauth_client, None)
    old_token = flow.token({"grant_type": "client_credentials"}).json()["access_token"]
    old_kid = SigningKey.objects.get().kid
    out = run("rotatekeys")
    new = SigningKey.objects.filter(retired_at__isnull=True).get()
    assert new.kid in out and new.kid != old_kid
    assert kids() == {old_kid, new.kid}
    assert all("d" not in k for k in keys.jwks()["keys"])
    # Old tokens still verify, new ones are signed with the new key.
    assert validate(client, old_token).status_code == 200
    new_token = flow.token({"grant_type": "client_credentials"}).json()["access_token"]
    import jwt

    assert jwt.get_unverified_header(new_token)["kid"] == new.kid
    assert validate(client, new_token).status_code == 200
    assert client.get("/api/me", HTTP_AUTHORIZATION="Bearer " + old_token).status_code == 200
    # Still published, and its tokens still valid, just before their lifetime has passed...
    with clock(timedelta(seconds=3600 - 40)):
        assert old_kid in kids()
        keys.reset_verification_cache()  # a fresh process
        assert validate(client, old_token).status_code == 200
    # ...and gone once every token it signed has expired.
    with clock(timedelta(hours=2)):
        assert kids() == {new.kid}
        keys.reset_verification_cache()
        assert validate(client, old_token).status_code == 401


def test_rotatekeys_honours_long_client_lifetimes(client):
    ClientFactory(access_token_lifetime=6 * 3600)
    keys.current_key()
    old_kid = SigningKey.objects.get().kid
    run("rotatekeys")
    with clock(timedelta(hours=5)):
        assert old_kid in kids()
    with clock(timedelta(hours=7)):
        assert old_kid not in kids()


def test_rotatekeys_algorithm_option():
    run("rotatekeys", "--algorithm", "ES256")
    key = SigningKey.objects.get(retired_at__isnull=True)
    assert key.algorithm == "ES256" and key.public_jwk["kty"] == "EC"
    with pytest.raises(CommandError):
        run("rotatekeys", "--algorithm", "HS256")


def test_rotatekeys_twice_keeps_all_recent_keys():
    run("rotatekeys")
    run("rotatekeys")
    run("rotatekeys")
    assert len(kids()) == 3
    assert SigningKey.objects.filter(retired_at__isnull=True).count() == 1


def test_revoked_token_stays_refused_through_the_leeway(client):
    from oauth_tokens.provider import local_verifier, revocation

    flow = Flow(client, ClientFactory(access_token_lifetime=600), None)
    token = flow.token({"grant_type": "client_credentials"}).json()["access_token"]
    revocation.revoke_rows(AccessToken.objects.all())
    with clock(timedelta(seconds=610)):
        local_verifier.reset()  # another worker process
        assert client.get("/api/me", HTTP_AUTHORIZATION="Bearer " + token).status_code == 401


def test_cleartokens_keeps_a_used_code_while_its_tokens_live_so_a_replay_still_revokes_them(client, user):
    flow = Flow(client, ClientFactory(), user)
    code = flow.authorize(scope="read")
    redeem = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER}
    assert flow.token(redeem).status_code == 200
    flow.authorize(scope="read")  # never redeemed: goes at expiry
    later = timezone.now() + timedelta(minutes=2)
    with mock.patch("oauth_tokens.provider.models.now", return_value=later):
        run("cleartokens")
        assert AuthorizationCode.objects.count() == 1
        replay = flow.token(redeem)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(revoked_at__isnull=True).exists()


def test_createclient_refuses_a_scope_the_server_does_not_know():
    with pytest.raises(CommandError, match="Unknown scope"):
        call_command("createclient", "Typo", "--grant-types", "client_credentials", "--scope", "raed")
    assert not Client.objects.filter(name="Typo").exists()


def test_createclient_accepts_the_introspection_scope():
    out = run("createclient", "Orders API", "--grant-types", "client_credentials", "--scope", "introspection", "--json")
    assert Client.objects.get(client_id=json.loads(out)["client_id"]).scope == "introspection"
