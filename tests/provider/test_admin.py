"""Client admin: the secret is shown exactly once, regenerated on demand, never again.

Token, key and audit screens are in test_admin_tokens.py.
"""

import re
from urllib.parse import urlencode

import pytest

from oauth_tokens.provider import local_verifier
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken, TokenEvent
from tests.conftest import basic
from tests.factories import ClientFactory, PublicClientFactory

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/oauth_tokens_provider/client/add/"
CHANGELIST = "/admin/oauth_tokens_provider/client/"


def change_url(client):
    return f"/admin/oauth_tokens_provider/client/{client.pk}/change/"


def client_form(**overrides):
    data = {
        "name": "Admin-made app",
        "client_type": "confidential",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "redirect_uris": "https://app.example.test/cb\r\nhttp://127.0.0.1/cb",
        "scope": "read write",
        "access_token_lifetime": "",
        "refresh_token_lifetime": "",
        "owner": "",
        "is_active": "on",
        "_save": "Save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def shown_secrets(html: str) -> dict[str, str]:
    """client_id -> secret from the one-time secret page."""
    rows = re.findall(r"<td><code>([^<]+)</code></td><td><code>([^<]+)</code></td>", html)
    return dict(rows)


def client_credentials(http, client_id, secret):
    return http.post(
        "/oauth/token",
        urlencode({"grant_type": "client_credentials", "scope": "read"}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(client_id, secret),
    )


def admin_pages_for(admin_client, client):
    for url in (CHANGELIST, change_url(client), f"{CHANGELIST}{client.pk}/history/", f"{CHANGELIST}?q={client.name}"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        yield url, response.content.decode()


def test_creating_a_confidential_client_shows_its_secret_once(admin_client, client):
    response = admin_client.post(ADD_URL, client_form())
    assert response.status_code == 200, response.content[:2000]
    assert "no-store" in response["Cache-Control"]
    created = Client.objects.get(name="Admin-made app")
    secrets = shown_secrets(response.content.decode())
    assert list(secrets) == [created.client_id]
    secret = secrets[created.client_id]
    assert len(secret) >= 43
    assert created.secret_digest and secret not in created.secret_digest
    # The secret works at the token endpoint...
    token = client_credentials(client, created.client_id, secret)
    assert token.status_code == 200, token.content
    # ...and is never displayed again, nor is its digest.
    for url, html in admin_pages_for(admin_client, created):
        assert secret not in html, url
        assert created.secret_digest not in html and created.secret_digest[:12] not in html, url
        assert created.client_id in html or url.endswith("/history/")


def test_reloading_the_secret_page_creates_no_second_client(admin_client, client):
    form = admin_client.get(ADD_URL).content.decode()
    submission = re.search(r'name="submission" value="([^"]+)"', form).group(1)
    first = admin_client.post(ADD_URL, client_form(submission=submission))
    secret = next(iter(shown_secrets(first.content.decode()).values()))
    # The browser's reload sends the same POST again.
    again = admin_client.post(ADD_URL, client_form(submission=submission), follow=True)
    created = Client.objects.get()
    assert again.redirect_chain[0][0] == change_url(created)
    page = again.content.decode()
    assert "already saved" in page and secret not in page and shown_secrets(page) == {}
    # The secret shown the first time still works: nothing was regenerated.
    assert client_credentials(client, created.client_id, secret).status_code == 200
    # Another add form is another client.
    other = admin_client.get(ADD_URL).content.decode()
    other_submission = re.search(r'name="submission" value="([^"]+)"', other).group(1)
    assert other_submission != submission
    admin_client.post(ADD_URL, client_form(name="Second app", submission=other_submission))
    assert Client.objects.count() == 2


def test_done_on_the_secret_page_shows_the_usual_success_message(admin_client):
    page = admin_client.post(ADD_URL, client_form()).content.decode()
    assert "was added successfully" not in page  # kept for the next page
    done = re.search(r'<a class="button" href="([^"]+)">Done</a>', page).group(1)
    assert "\u201cAdmin-made app\u201d was added successfully." in admin_client.get(done).content.decode()


def test_save_and_continue_also_shows_the_secret_page(admin_client):
    response = admin_client.post(ADD_URL, client_form(_save=None, _continue="Save and continue editing"))
    created = Client.objects.get()
    assert response.status_code == 200
    assert created.client_id in shown_secrets(response.content.decode())


def test_grant_types_are_checkboxes_and_several_can_be_chosen(admin_client):
    page = admin_client.get(ADD_URL).content.decode()
    for grant in ("authorization_code", "refresh_token", "client_credentials"):
        assert re.search(rf'<input type="checkbox" name="grant_types" value="{grant}"', page), grant
    admin_client.post(ADD_URL, client_form(grant_types=["authorization_code", "refresh_token"]))
    created = Client.objects.get()
    assert created.grant_type_list == ["authorization_code", "refresh_token"]
    change = admin_client.get(change_url(created)).content.decode()
    checked = set(re.findall(r'name="grant_types" value="(\w+)"[^>]*checked', change))
    assert checked == {"authorization_code", "refresh_token"}


def test_public_client_has_no_secret(admin_client):
    response = admin_client.post(
        ADD_URL, client_form(client_type="public", grant_types=["authorization_code", "refresh_token"])
    )
    assert response.status_code == 302
    created = Client.objects.get()
    assert created.secret_digest == "" and not created.is_confidential
    assert "None (public client)" in admin_client.get(change_url(created)).content.decode()


def test_regenerate_secret_shows_a_new_secret_once_and_the_old_one_stops_working(admin_client, client):
    oauth_client = ClientFactory()
    old = oauth_client.secret
    assert client_credentials(client, oauth_client.client_id, old).status_code == 200
    response = admin_client.post(
        CHANGELIST, {"action": "regenerate_secret", "_selected_action": [oauth_client.pk]}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new = shown_secrets(response.content.decode())[oauth_client.client_id]
    assert new != old
    assert client_credentials(client, oauth_client.client_id, old).status_code == 401
    assert client_credentials(client, oauth_client.client_id, new).status_code == 200
    oauth_client.refresh_from_db()
    for url, html in admin_pages_for(admin_client, oauth_client):
        assert new not in html and old not in html, url
        assert oauth_client.secret_digest[:12] not in html, url
    assert "client secret" in admin_client.get(f"{CHANGELIST}{oauth_client.pk}/history/").content.decode()


def test_regenerate_secret_skips_public_clients(admin_client):
    public = PublicClientFactory()
    response = admin_client.post(
        CHANGELIST, {"action": "regenerate_secret", "_selected_action": [public.pk]}, follow=True
    )
    assert "Public clients have no secret" in response.content.decode()
    public.refresh_from_db()
    assert public.secret_digest == ""


def test_turning_a_public_client_confidential_shows_a_new_secret(admin_client, client):
    public = PublicClientFactory()
    data = client_form(name=public.name, grant_types=["client_credentials"], redirect_uris="")
    response = admin_client.post(change_url(public), data)
    assert response.status_code == 200
    secret = shown_secrets(response.content.decode())[public.client_id]
    assert client_credentials(client, public.client_id, secret).status_code == 200


def test_turning_a_confidential_client_public_drops_its_secret(admin_client, client, oauth_client):
    data = client_form(name=oauth_client.name, client_type="public", grant_types=["authorization_code"])
    response = admin_client.post(change_url(oauth_client), data)
    assert response.status_code == 302
    oauth_client.refresh_from_db()
    assert oauth_client.secret_digest == ""
    assert client_credentials(client, oauth_client.client_id, oauth_client.secret).status_code == 401


def test_editing_a_confidential_client_keeps_its_secret(admin_client, client, oauth_client):
    response = admin_client.post(change_url(oauth_client), client_form(name="Renamed"))
    assert response.status_code == 302
    oauth_client.refresh_from_db()
    assert oauth_client.name == "Renamed"
    assert client_credentials(client, oauth_client.client_id, oauth_client.secret).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"redirect_uris": "http://app.example.test/cb"}, "redirect_uris", "plain http is allowed only for loopback"),
        ({"redirect_uris": "https://app.example.test/cb#frag"}, "redirect_uris", "must not contain a fragment"),
        ({"redirect_uris": "/cb"}, "redirect_uris", "must be an absolute URI"),
        ({"redirect_uris": "https://user:pw@app.example.test/cb"}, "redirect_uris", "user information"),
        ({"redirect_uris": "javascript:alert(1)"}, "redirect_uris", "is not allowed"),
        ({"redirect_uris": "https://app.example.test:99999/cb"}, "redirect_uris", "is not a valid URI"),
        ({"redirect_uris": ""}, "redirect_uris", "needs at least one redirect URI"),
        ({"client_type": "public"}, "grant_types", "Public clients cannot use client_credentials"),
        ({"grant_types": []}, "grant_types", "This field is required"),
        ({"grant_types": ["password"]}, "grant_types", "not one of the available choices"),
        ({"scope": "read wr\"ite"}, "scope", "printable ASCII"),
        ({"scope": "  "}, "scope", "This field is required"),
    ],
)
def test_invalid_client_forms_show_errors(admin_client, overrides, field, message):
    response = admin_client.post(ADD_URL, client_form(**overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert Client.objects.count() == 0


def test_redirect_uris_and_scope_are_normalised(admin_client):
    admin_client.post(
        ADD_URL,
        client_form(redirect_uris="  https://a.example.test/cb \r\n\r\nhttp://127.0.0.1:9000/cb ",
                    scope=" read   write "),
    )
    created = Client.objects.get()
    assert created.redirect_uri_list == ["https://a.example.test/cb", "http://127.0.0.1:9000/cb"]
    assert created.scope == "read write"


# -- deactivation revokes -----------------------------------------------------------------


def assert_all_tokens_dead(flow, tokens, oauth_client):
    me = flow.http.get("/api/me", HTTP_AUTHORIZATION="Bearer " + tokens["access_token"])
    assert me.status_code == 401
    assert flow.refresh(tokens["refresh_token"]).status_code in (400, 401)
    assert not AccessToken.objects.filter(client=oauth_client, revoked_at__isnull=True).exists()
    assert not RefreshToken.objects.filter(client=oauth_client, revoked_at__isnull=True).exists()
    assert TokenEvent.objects.filter(kind=TokenEvent.REVOKED, client=oauth_client).exists()


def test_deactivate_action_revokes_every_token(admin_client, flow):
    tokens = flow.code_tokens()
    response = admin_client.post(CHANGELIST, {"action": "deactivate", "_selected_action": [flow.client.pk]})
    assert response.status_code == 302
    flow.client.refresh_from_db()
    assert not flow.client.is_active
    assert_all_tokens_dead(flow, tokens, flow.client)


def test_unticking_active_in_the_form_revokes_every_token(admin_client, flow):
    tokens = flow.code_tokens()
    data = client_form(name=flow.client.name, is_active=None)
    response = admin_client.post(change_url(flow.client), data)
    assert response.status_code == 302
    assert_all_tokens_dead(flow, tokens, flow.client)


def test_deactivated_client_cannot_get_new_tokens(admin_client, flow):
    admin_client.post(CHANGELIST, {"action": "deactivate", "_selected_action": [flow.client.pk]})
    response = flow.token({"grant_type": "client_credentials"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_deleting_a_deactivated_client_keeps_its_tokens_refused(admin_client, flow):
    """The rows that said "revoked" go with the client; the admin keeps the ids refused."""
    tokens = flow.code_tokens()
    cc = flow.token({"grant_type": "client_credentials"}).json()
    admin_client.post(CHANGELIST, {"action": "deactivate", "_selected_action": [flow.client.pk]})
    response = admin_client.post(f"{CHANGELIST}{flow.client.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Client.objects.filter(pk=flow.client.pk).exists()
    local_verifier.reset()  # another worker process, which never saw the tokens revoked
    for token in (tokens["access_token"], cc["access_token"]):
        assert flow.http.get("/api/me", HTTP_AUTHORIZATION="Bearer " + token).status_code == 401
        assert flow.http.get("/oauth/token", HTTP_AUTHORIZATION="Bearer " + token).status_code == 401


def test_bulk_deleting_live_clients_keeps_their_tokens_refused(admin_client, flow):
    tokens = flow.code_tokens()
    response = admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [flow.client.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not Client.objects.exists()
    local_verifier.reset()  # another worker process
    assert flow.http.get("/api/me", HTTP_AUTHORIZATION="Bearer " + tokens["access_token"]).status_code == 401


def test_deleting_a_deactivated_client_outside_the_admin_keeps_its_tokens_refused(flow):
    tokens = flow.code_tokens()
    flow.client.is_active = False
    flow.client.save()
    assert flow.http.get("/api/me", HTTP_AUTHORIZATION="Bearer " + tokens["access_token"]).status_code == 401
    flow.client.delete()
    local_verifier.reset()  # another worker process
    assert flow.http.get("/api/me", HTTP_AUTHORIZATION="Bearer " + tokens["access_token"]).status_code == 401


def test_client_without_tokens_can_be_deleted(admin_client):
    oauth_client = ClientFactory()
    response = admin_client.post(f"{CHANGELIST}{oauth_client.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Client.objects.exists()


@pytest.mark.parametrize("model", ["signingkey", "tokenevent"])
def test_audit_events_and_signing_keys_cannot_be_deleted_in_the_admin(admin_client, model):
    response = admin_client.get(f"/admin/oauth_tokens_provider/{model}/")
    assert response.status_code == 200
    assert b'value="delete_selected"' not in response.content
