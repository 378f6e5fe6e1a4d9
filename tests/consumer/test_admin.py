"""Admin: provider, user, status and expiry are visible, a token never is (not
even ciphertext); "Refresh now" and "Revoke" act through the same single-flight
service."""

import pytest

from oauth_tokens.consumer.models import ExternalToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
BASE = "/admin/oauth_tokens_consumer/externaltoken/"


@pytest.fixture
def staff(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


@pytest.fixture
def stored(fake, register, connected):
    server = fake()
    register(ext=server.config())
    return server, connected("ext", server)


def raw_values(row):
    return list(ExternalToken.objects.filter(pk=row.pk).values_list("access_token", "refresh_token").get())


def test_pages_show_status_never_a_token(staff, stored):
    server, row = stored
    needles = [row.access_token, row.refresh_token]
    listing = staff.get(BASE)
    detail = staff.get(f"{BASE}{row.pk}/change/")
    assert listing.status_code == 200 and detail.status_code == 200
    for page in (listing, detail):
        html = page.content.decode()
        assert "alice" in html and "ext" in html and "Active" in html
        assert not [n for n in needles if n in html]
        assert "access_token" not in html.replace("access_token</", "")  # no field with the token
    assert staff.get(BASE + "add/").status_code == 403


def test_refresh_now_action(staff, stored):
    server, row = stored
    response = staff.post(BASE, {"action": "refresh_now", "_selected_action": [row.pk]}, follow=True)
    assert b"1 token refreshed." in response.content
    fresh = ExternalToken.objects.get(pk=row.pk)
    assert fresh.refresh_count == 1 and fresh.access_token != row.access_token
    assert len(server.token_requests) == 1


def test_refresh_now_reports_a_dead_grant(staff, stored):
    server, row = stored
    server.live_refresh.clear()
    response = staff.post(BASE, {"action": "refresh_now", "_selected_action": [row.pk]}, follow=True)
    assert b"must authorize again" in response.content
    assert ExternalToken.objects.get(pk=row.pk).status == "needs_reauth"


def test_revoke_action(staff, stored):
    server, row = stored
    response = staff.post(BASE, {"action": "revoke_selected", "_selected_action": [row.pk]}, follow=True)
    assert b"1 token revoked." in response.content
    assert sorted(token for _, token in server.revoked) == sorted([row.access_token, row.refresh_token])
    assert ExternalToken.objects.get(pk=row.pk).status == "revoked"


def test_a_stored_token_page_is_a_view_without_save_buttons(staff, stored):
    server, row = stored
    page = staff.get(f"{BASE}{row.pk}/change/").content.decode()
    assert "View external token" in page and "Change external token" not in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    # Nothing can be posted to it, while the list's actions still work.
    assert staff.post(f"{BASE}{row.pk}/change/", {"status": "revoked"}).status_code == 403
    assert ExternalToken.objects.get(pk=row.pk).status == "active"
    assert "refresh_now" in staff.get(BASE).content.decode()
