"""Client configuration endpoint (RFC 7592) over HTTP: read, update (the registration
access token rotates) and delete, with right, wrong, stale and missing tokens."""

import pytest

from oauth_tokens.oauth2.errors import InvalidToken
from oauth_tokens.oauth2.registration import parse_metadata
from oauth_tokens.provider import registration
from oauth_tokens.provider.models import AccessToken, Client, TokenEvent
from tests.conftest import REDIRECT, basic
from tests.provider.registration import ENABLED, METADATA, assert_error, code_tokens, configuration, register

pytestmark = pytest.mark.django_db
OTHER = "https://app.example.test/other"


@pytest.fixture
def registered(client, settings):
    settings.OAUTH_TOKENS = ENABLED
    response = register(client, {**METADATA, "logo_uri": "https://app.example.test/logo.png"})
    assert response.status_code == 201
    return response.json()


def update_body(registered, **changes):
    return {**METADATA, "client_id": registered["client_id"], **changes}


def assert_unauthorized(response):
    assert_error(response, 401, "invalid_token")
    assert response["WWW-Authenticate"].startswith("Bearer ")
    return response.json()


# -- read -------------------------------------------------------------------------------

def test_the_client_reads_its_configuration_with_its_token(client, registered):
    response = configuration(client, "get", registered)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert body == registered  # the same metadata, the same (current) registration access token
    assert "client_secret" not in body


@pytest.mark.parametrize("token", ["", "wrong-" + "x" * 40])
def test_a_missing_or_wrong_token_and_an_unknown_client_look_the_same(client, registered, token):
    wrong = assert_unauthorized(configuration(client, "get", registered, token=token))
    unknown = {**registered, "registration_client_uri": "https://auth.example.test/oauth/register/nobody"}
    assert assert_unauthorized(configuration(client, "get", unknown)) == wrong
    assert assert_unauthorized(configuration(client, "get", unknown, token=token)) == wrong


def test_another_clients_token_does_not_open_this_client(client, registered):
    other = register(client).json()
    assert_unauthorized(configuration(client, "get", registered, token=other["registration_access_token"]))


def test_a_client_made_in_the_admin_has_no_configuration_endpoint(client, registered, oauth_client):
    made = {"registration_client_uri": f"https://auth.example.test/oauth/register/{oauth_client.client_id}",
            "registration_access_token": ""}
    assert_unauthorized(configuration(client, "get", made))


def test_a_confidential_clients_secret_is_never_read_back(client, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_AUTH_METHODS": ["client_secret_post"]}
    registered = register(client, {**METADATA, "token_endpoint_auth_method": "client_secret_post"}).json()
    body = configuration(client, "get", registered).json()
    assert "client_secret" not in body and body["client_secret_expires_at"] == 0


# -- update -----------------------------------------------------------------------------

def test_an_update_replaces_the_metadata_and_rotates_the_token(client, registered):
    response = configuration(client, "put", registered, body=update_body(
        registered, redirect_uris=[OTHER], client_name="Renamed", scope="read"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["redirect_uris"] == [OTHER] and body["client_name"] == "Renamed" and body["scope"] == "read"
    assert "logo_uri" not in body  # omitted fields are removed (a replacement, not a patch)
    assert body["registration_access_token"] != registered["registration_access_token"]
    row = Client.objects.get(client_id=registered["client_id"])
    assert (row.name, row.redirect_uri_list, row.metadata.get("logo_uri")) == ("Renamed", [OTHER], None)
    assert_unauthorized(configuration(client, "get", registered))  # the old token stopped working
    assert configuration(client, "get", body).json()["client_name"] == "Renamed"
    event = TokenEvent.objects.get(kind=TokenEvent.CLIENT_UPDATED)
    assert event.client == row and "redirect_uris" in event.detail and event.ip_address == "127.0.0.1"


@pytest.mark.parametrize("change, error", [
    ({"client_id": "someone-else"}, "invalid_request"),
    ({"client_id": None}, "invalid_request"),
    ({"client_secret": "not-the-secret"}, "invalid_request"),
    ({"registration_access_token": "x"}, "invalid_client_metadata"),
    ({"client_id_issued_at": 1}, "invalid_client_metadata"),
    ({"redirect_uris": ["http://evil.example.test/cb"]}, "invalid_redirect_uri"),
    ({"token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata"),
    ({"scope": "introspection"}, "invalid_client_metadata"),
])
def test_a_refused_update_changes_nothing(client, registered, change, error):
    body = {k: v for k, v in update_body(registered, **change).items() if v is not None}
    assert_error(configuration(client, "put", registered, body=body), 400, error)
    row = Client.objects.get(client_id=registered["client_id"])
    assert row.redirect_uri_list == [REDIRECT] and row.metadata["logo_uri"]
    assert configuration(client, "get", registered).status_code == 200  # the token did not rotate


def test_an_update_with_a_wrong_token_is_401(client, registered):
    assert_unauthorized(configuration(client, "put", registered, token="x" * 43, body=update_body(registered)))


def test_a_public_client_turned_confidential_gets_its_first_secret(client, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_AUTH_METHODS": ["none", "client_secret_basic"]}
    registered = register(client).json()
    body = configuration(client, "put", registered, body=update_body(
        registered, token_endpoint_auth_method="client_secret_basic")).json()
    assert body["client_secret"] and body["client_secret_expires_at"] == 0
    again = configuration(client, "put", body, body=update_body(
        registered, token_endpoint_auth_method="client_secret_basic", client_secret=body["client_secret"]))
    assert again.status_code == 200 and "client_secret" not in again.json()  # kept, not rotated
    row = Client.objects.get(client_id=registered["client_id"])
    assert row.is_confidential and row.check_secret(body["client_secret"])


def test_with_approval_required_a_changed_redirect_needs_a_new_approval(client, settings, user):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_APPROVAL_REQUIRED": True}
    registered = register(client).json()
    row = Client.objects.get(client_id=registered["client_id"])
    assert registration.approve(row)  # what the admin's action does
    tokens = code_tokens(client, registered["client_id"], user).json()
    renamed = configuration(client, "put", registered, body=update_body(registered, client_name="Same rights"))
    assert renamed.json()["registration_status"] == "active"
    moved = configuration(client, "put", renamed.json(), body=update_body(registered, redirect_uris=[OTHER]))
    assert moved.json()["registration_status"] == "pending_approval"
    row.refresh_from_db()
    assert (row.is_active, row.pending_approval) == (False, True)
    assert client.get("/api/me", HTTP_AUTHORIZATION="Bearer " + tokens["access_token"]).status_code == 401


# -- delete -----------------------------------------------------------------------------

def test_delete_deactivates_the_client_and_revokes_its_tokens(client, registered, user):
    tokens = code_tokens(client, registered["client_id"], user).json()
    response = configuration(client, "delete", registered, REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 204 and response["Cache-Control"] == "no-store" and not response.content
    row = Client.objects.get(client_id=registered["client_id"])
    assert not row.is_active and not row.registration_token_digest
    assert not AccessToken.objects.filter(client=row, revoked_at__isnull=True).exists()
    assert client.get("/api/me", HTTP_AUTHORIZATION="Bearer " + tokens["access_token"]).status_code == 401
    refreshed = client.post("/oauth/token", f"grant_type=refresh_token&refresh_token={tokens['refresh_token']}"
                            f"&client_id={registered['client_id']}", content_type="application/x-www-form-urlencoded")
    assert refreshed.status_code == 401
    assert_unauthorized(configuration(client, "get", registered))
    assert_unauthorized(configuration(client, "delete", registered))
    event = TokenEvent.objects.get(kind=TokenEvent.CLIENT_DELETED)
    assert (event.client, event.ip_address) == (row, "192.0.2.7")


def test_a_deleted_confidential_client_cannot_authenticate(client, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_AUTH_METHODS": ["client_secret_basic"],
                             "REGISTRATION_GRANT_TYPES": ["client_credentials"]}
    registered = register(client, {"token_endpoint_auth_method": "client_secret_basic",
                                   "grant_types": ["client_credentials"]}).json()
    assert configuration(client, "delete", registered).status_code == 204
    issued = client.post("/oauth/token", "grant_type=client_credentials",
                         content_type="application/x-www-form-urlencoded",
                         HTTP_AUTHORIZATION=basic(registered["client_id"], registered["client_secret"]))
    assert issued.status_code == 401


def test_delete_with_a_wrong_token_deletes_nothing(client, registered):
    assert_unauthorized(configuration(client, "delete", registered, token="y" * 43))
    assert Client.objects.get(client_id=registered["client_id"]).is_active


def test_the_configuration_endpoint_refuses_post_and_answers_404_when_registration_is_off(client, registered,
                                                                                          settings):
    assert_error(configuration(client, "post", registered, body={}), 405, "invalid_request")
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_ENABLED": False}
    assert_error(configuration(client, "get", registered), 404, "invalid_request")


def test_of_two_updates_with_the_same_token_only_one_wins(client, registered):
    """The second request read the client before the first rotated its token: refused, not forked."""
    token = registered["registration_access_token"]
    first, second = (registration.find(registered["client_id"], token) for _ in range(2))
    meta = parse_metadata(update_body(registered), registration.policy())
    issued = registration.update(first, meta, ip="127.0.0.1")
    with pytest.raises(InvalidToken):
        registration.update(second, meta, ip="127.0.0.1")
    with pytest.raises(InvalidToken):
        registration.delete(second, ip="")
    assert configuration(client, "get", {**registered, "registration_access_token":
                                         issued.registration_access_token}).status_code == 200


@pytest.mark.parametrize("client_id", ["%00", "a%00b", "x" * 65, "%C3%A9", "%20"])
def test_client_ids_that_cannot_be_ours_are_the_same_401(client, registered, client_id):
    odd = {**registered, "registration_client_uri": f"https://auth.example.test/oauth/register/{client_id}"}
    for method in ("get", "delete"):
        assert_unauthorized(configuration(client, method, odd))
    assert_unauthorized(configuration(client, "put", odd, body=update_body(registered)))
