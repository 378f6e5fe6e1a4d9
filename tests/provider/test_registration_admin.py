"""Dynamically registered clients in the admin: visible as such (when, from where,
approval state), filtered, approved by an action or by activating them, editable
like any client; initial access tokens listed without their value."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from oauth_tokens.provider.models import Client, InitialAccessToken
from tests.provider.registration import ENABLED, METADATA, register
from tests.provider.test_admin import CHANGELIST, change_url, client_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(client, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_APPROVAL_REQUIRED": True}
    body = register(client, {**METADATA, "client_uri": "https://app.example.test"}, REMOTE_ADDR="203.0.113.5").json()
    return Client.objects.get(client_id=body["client_id"])


def test_the_change_page_says_when_and_from_where_a_client_registered(admin_client, pending, oauth_client):
    page = admin_client.get(change_url(pending)).content.decode()
    assert "from 203.0.113.5" in page and "pending approval" in page
    assert "https://app.example.test" in page  # the metadata, editable
    assert "No: made by an administrator" in admin_client.get(change_url(oauth_client)).content.decode()


def test_the_list_shows_and_filters_registered_and_pending_clients(admin_client, pending, oauth_client):
    listed = admin_client.get(CHANGELIST).content.decode()
    assert "Pending approval" in listed
    dynamic = admin_client.get(CHANGELIST + "?registration=dynamic").content.decode()
    assert pending.client_id in dynamic and oauth_client.client_id not in dynamic
    made = admin_client.get(CHANGELIST + "?registration=admin").content.decode()
    assert oauth_client.client_id in made and pending.client_id not in made


def test_the_approve_action_approves_only_pending_clients(admin_client, pending, oauth_client):
    response = admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [pending.pk, oauth_client.pk]},
                                 follow=True)
    assert "Approved 1 client(s)." in response.content.decode()
    pending.refresh_from_db()
    assert (pending.is_active, pending.pending_approval) == (True, False)
    again = admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [pending.pk]}, follow=True)
    assert "Approved 0 client(s)." in again.content.decode()


def test_activating_a_pending_client_in_its_form_approves_it(admin_client, pending):
    form = client_form(name=pending.name, client_type="public", grant_types=["authorization_code"],
                       redirect_uris=pending.redirect_uris, scope="read",
                       metadata=json.dumps({**pending.metadata, "client_uri": "https://changed.example.test"}))
    response = admin_client.post(change_url(pending), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    pending.refresh_from_db()
    assert (pending.is_active, pending.pending_approval) == (True, False)
    assert pending.metadata["client_uri"] == "https://changed.example.test"


def test_a_client_made_in_the_admin_has_empty_metadata(admin_client):
    assert admin_client.post("/admin/oauth_tokens_provider/client/add/", client_form()).status_code == 200
    assert Client.objects.get().metadata == {}


def test_initial_access_tokens_are_listed_without_their_value(admin_client):
    out = StringIO()
    call_command("createregistrationtoken", "Partner", "--max-uses", "3", "--json", stdout=out)
    token = json.loads(out.getvalue())["initial_access_token"]
    row = InitialAccessToken.objects.get()
    base = "/admin/oauth_tokens_provider/initialaccesstoken/"
    for url in (base, f"{base}{row.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert "Partner" in page and token not in page and row.digest not in page
    assert admin_client.get(base + "add/").status_code == 403
    admin_client.post(f"{base}{row.pk}/delete/", {"post": "yes"})
    assert not InitialAccessToken.objects.exists()
