"""Token, code, key and audit screens of the admin: filters, search, revoke actions,
and a crawl asserting that no page shows a token, code, secret, digest or private key."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib import admin as django_admin
from django.test import override_settings
from django.utils import timezone

from oauth_tokens import crypto
from oauth_tokens.provider import keys, local_verifier
from oauth_tokens.provider.models import (
    AccessToken,
    AuthorizationCode,
    Client,
    DeviceCode,
    RefreshToken,
    SigningKey,
    TokenEvent,
)
from tests.conftest import Flow
from tests.factories import ClientFactory, PublicClientFactory, UserFactory

pytestmark = pytest.mark.django_db
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

BASE = "/admin/oauth_tokens_provider"


def listed(admin_client, model: str, query: str = "") -> set[int]:
    response = admin_client.get(f"{BASE}/{model}/{query}")
    assert response.status_code == 200, response.content[:500]
    return {row.pk for row in response.context["cl"].result_list}


def me(http, access_token):
    return http.get("/api/me", HTTP_AUTHORIZATION="Bearer " + access_token)


@pytest.fixture
def states(client, user):
    """Refresh tokens in every state, for two clients and two users."""
    web, other = ClientFactory(name="Web"), ClientFactory(name="Other")
    bob = UserFactory(username="bob")
    flow = Flow(client, web, user)
    first = flow.code_tokens()
    second = flow.refresh(first["refresh_token"]).json()  # first is now rotated
    revoked_tokens = Flow(client, web, bob).code_tokens()
    expired_tokens = Flow(client, other, bob).code_tokens()
    active = RefreshToken.objects.get(used_at__isnull=True, user=user)
    rotated = RefreshToken.objects.get(used_at__isnull=False)
    revoked = RefreshToken.objects.get(client=web, user__username="bob")
    expired = RefreshToken.objects.get(client=other)
    RefreshToken.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    past = timezone.now() - timedelta(seconds=5)
    RefreshToken.objects.filter(pk=expired.pk).update(expires_at=past)
    AccessToken.objects.filter(client=other).update(expires_at=past - timedelta(minutes=5))
    AccessToken.objects.filter(refresh_token=revoked).update(revoked_at=timezone.now())
    return {
        "web": web, "other": other, "bob": bob, "flow": flow,
        "active": active, "rotated": rotated, "revoked": revoked, "expired": expired,
        "tokens": {"first": first, "second": second, "revoked": revoked_tokens, "expired": expired_tokens},
    }


def test_refresh_token_state_filter(admin_client, states):
    s = states
    assert listed(admin_client, "refreshtoken", "?state=active") == {s["active"].pk}
    assert listed(admin_client, "refreshtoken", "?state=rotated") == {s["rotated"].pk}
    assert listed(admin_client, "refreshtoken", "?state=revoked") == {s["revoked"].pk}
    assert listed(admin_client, "refreshtoken", "?state=expired") == {s["expired"].pk}
    assert len(listed(admin_client, "refreshtoken")) == 4


def test_access_token_state_filter(admin_client, states):
    active = listed(admin_client, "accesstoken", "?state=active")
    assert {AccessToken.objects.get(pk=pk).client.name for pk in active} == {"Web"}
    assert len(active) == 2  # the first one of alice's family and its successor
    revoked = listed(admin_client, "accesstoken", "?state=revoked")
    assert [AccessToken.objects.get(pk=pk).user.username for pk in revoked] == ["bob"]
    expired = listed(admin_client, "accesstoken", "?state=expired")
    assert {AccessToken.objects.get(pk=pk).client.name for pk in expired} == {"Other"}


def test_filter_by_client(admin_client, states):
    other = states["other"]
    assert listed(admin_client, "refreshtoken", f"?client__id__exact={other.pk}") == {states["expired"].pk}
    access = listed(admin_client, "accesstoken", f"?client__id__exact={other.pk}")
    assert access == set(AccessToken.objects.filter(client=other).values_list("pk", flat=True))
    assert listed(admin_client, "authorizationcode", f"?client__id__exact={other.pk}") == set(
        AuthorizationCode.objects.filter(client=other).values_list("pk", flat=True)
    )


def test_search_by_family_user_and_client_id(admin_client, states):
    family = states["active"].family
    assert listed(admin_client, "refreshtoken", f"?q={family}") == {states["active"].pk, states["rotated"].pk}
    assert listed(admin_client, "accesstoken", f"?q={family}") == set(
        AccessToken.objects.filter(family=family).values_list("pk", flat=True)
    )
    assert listed(admin_client, "refreshtoken", "?q=bob") == {states["revoked"].pk, states["expired"].pk}
    assert listed(admin_client, "refreshtoken", f"?q={states['other'].client_id}") == {states["expired"].pk}
    assert listed(admin_client, "refreshtoken", "?q=no-such-thing") == set()
    jti = AccessToken.objects.filter(client=states["other"]).get().jti
    assert len(listed(admin_client, "accesstoken", f"?q={jti}")) == 1


def test_combined_filters(admin_client, states):
    web = states["web"]
    assert listed(admin_client, "refreshtoken", f"?client__id__exact={web.pk}&state=active&q=alice") == {
        states["active"].pk
    }


def test_revoke_selected_refresh_token(admin_client, states):
    flow, tokens = states["flow"], states["tokens"]["second"]
    response = admin_client.post(
        f"{BASE}/refreshtoken/", {"action": "revoke_selected", "_selected_action": [states["active"].pk]}, follow=True
    )
    assert "Revoked 1 token(s)." in response.content.decode()
    refreshed = flow.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    # RFC 7009 2.1: the access token issued with it goes too.
    assert me(flow.http, tokens["access_token"]).status_code == 401
    event = TokenEvent.objects.filter(kind=TokenEvent.REVOKED).first()
    assert event.client == states["web"] and "admin" in event.detail


def test_revoke_selected_access_token_leaves_the_rest(admin_client, states):
    flow, tokens = states["flow"], states["tokens"]["second"]
    row = AccessToken.objects.get(refresh_token=states["active"])
    admin_client.post(f"{BASE}/accesstoken/", {"action": "revoke_selected", "_selected_action": [row.pk]})
    assert me(flow.http, tokens["access_token"]).status_code == 401
    # The older access token of the family is untouched, and refreshing still works.
    assert me(flow.http, states["tokens"]["first"]["access_token"]).status_code == 200
    assert flow.refresh(tokens["refresh_token"]).status_code == 200


def test_revoke_family_from_an_access_token(admin_client, states):
    flow, first, second = states["flow"], states["tokens"]["first"], states["tokens"]["second"]
    row = AccessToken.objects.get(refresh_token=states["active"])
    response = admin_client.post(
        f"{BASE}/accesstoken/", {"action": "revoke_families", "_selected_action": [row.pk]}, follow=True
    )
    assert "Revoked 1 famil(ies)" in response.content.decode()
    assert me(flow.http, first["access_token"]).status_code == 401
    assert me(flow.http, second["access_token"]).status_code == 401
    assert flow.refresh(second["refresh_token"]).status_code == 400
    # Other families are untouched.
    bob_flow = Flow(flow.http, states["other"], states["bob"])
    assert bob_flow.code_tokens()  # new grants still work
    assert RefreshToken.objects.filter(family=states["active"].family, revoked_at__isnull=True).count() == 0
    assert RefreshToken.objects.filter(pk=states["expired"].pk, revoked_at__isnull=True).exists()


def test_revoke_family_from_a_rotated_refresh_token(admin_client, states):
    flow, second = states["flow"], states["tokens"]["second"]
    admin_client.post(
        f"{BASE}/refreshtoken/", {"action": "revoke_families", "_selected_action": [states["rotated"].pk]}
    )
    assert flow.refresh(second["refresh_token"]).status_code == 400
    assert me(flow.http, second["access_token"]).status_code == 401
    assert TokenEvent.objects.filter(kind=TokenEvent.REVOKED, family=states["rotated"].family).exists()


def test_revoke_family_of_a_client_credentials_token(admin_client, client):
    oauth_client = ClientFactory()
    flow = Flow(client, oauth_client, None)
    tokens = flow.token({"grant_type": "client_credentials"}).json()
    row = AccessToken.objects.get()
    assert row.family is None
    admin_client.post(f"{BASE}/accesstoken/", {"action": "revoke_families", "_selected_action": [row.pk]})
    assert me(client, tokens["access_token"]).status_code == 401


def test_token_rows_cannot_be_added_or_edited(admin_client, states):
    assert admin_client.get(f"{BASE}/refreshtoken/add/").status_code == 403
    assert admin_client.get(f"{BASE}/accesstoken/add/").status_code == 403
    row = AccessToken.objects.first()
    page = admin_client.get(f"{BASE}/accesstoken/{row.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()


def test_deleting_a_revoked_access_token_row_keeps_it_refused(admin_client, states):
    """The row is what says "revoked": deleting it must not bring the token back."""
    revoked_access = AccessToken.objects.get(refresh_token=states["revoked"])
    token = states["tokens"]["revoked"]["access_token"]
    assert me(states["flow"].http, token).status_code == 401
    response = admin_client.post(f"{BASE}/accesstoken/{revoked_access.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not AccessToken.objects.filter(pk=revoked_access.pk).exists()
    local_verifier.reset()  # another worker process
    assert me(states["flow"].http, token).status_code == 401


def test_bulk_deleting_live_access_tokens_revokes_them(admin_client, states):
    first = states["tokens"]["first"]["access_token"]
    rows = list(AccessToken.objects.filter(family=states["active"].family).values_list("pk", flat=True))
    response = admin_client.post(
        f"{BASE}/accesstoken/", {"action": "delete_selected", "_selected_action": rows, "post": "yes"}
    )
    assert response.status_code == 302
    local_verifier.reset()  # another worker process
    assert me(states["flow"].http, first).status_code == 401


def test_deleting_a_rotated_refresh_token_ends_its_family(admin_client, states):
    """Without the tombstone its reuse could no longer be detected, so the grant ends."""
    flow, second = states["flow"], states["tokens"]["second"]
    response = admin_client.post(f"{BASE}/refreshtoken/{states['rotated'].pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert flow.refresh(second["refresh_token"]).status_code == 400
    assert me(flow.http, second["access_token"]).status_code == 401
    assert flow.refresh(states["tokens"]["first"]["refresh_token"]).status_code == 400


def test_signing_key_admin_never_shows_the_private_key(admin_client, states):
    keys.rotate()
    for key in SigningKey.objects.all():
        pem = crypto.decrypt(key.private_key)
        body_lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
        for url in (f"{BASE}/signingkey/", f"{BASE}/signingkey/{key.pk}/change/"):
            html = admin_client.get(url).content.decode()
            assert key.kid in html
            assert "PRIVATE KEY" not in html and key.private_key not in html
            assert not any(line in html for line in body_lines)
            assert '"d"' not in html and "&quot;d&quot;" not in html  # no private JWK member
    assert admin_client.get(f"{BASE}/signingkey/add/").status_code == 403


def test_token_event_list(admin_client, states):
    flow = states["flow"]
    # A security event: a rotated refresh token presented again outside the grace window.
    # Inside the window: the same pair, recorded as a grace replay.
    assert flow.refresh(states["tokens"]["first"]["refresh_token"]).status_code == 200
    RefreshToken.objects.filter(pk=states["rotated"].pk).update(used_at=timezone.now() - timedelta(minutes=1))
    assert flow.refresh(states["tokens"]["first"]["refresh_token"]).json()["error"] == "invalid_grant"
    # And a failed client authentication.
    assert flow.token({"grant_type": "client_credentials"}, auth="Basic " + "Zm9vOmJhcg==").status_code == 401
    response = admin_client.get(f"{BASE}/tokenevent/")
    assert response.status_code == 200
    kinds = {e.kind for e in response.context["cl"].result_list}
    # The reuse is also a refused refresh (anomaly detection's audit of invalid_grant).
    assert kinds == {TokenEvent.GRACE_REPLAYED, TokenEvent.REUSE_DETECTED, TokenEvent.REFRESH_FAILED,
                     TokenEvent.AUTH_FAILED}
    assert listed(admin_client, "tokenevent", "?kind__exact=reuse_detected") == set(
        TokenEvent.objects.filter(kind="reuse_detected", family=states["rotated"].family).values_list("pk", flat=True)
    )
    assert admin_client.get(f"{BASE}/tokenevent/?q=bob").status_code == 200
    assert admin_client.get(f"{BASE}/tokenevent/add/").status_code == 403


def test_issuance_is_recorded_on_the_access_token_rows(admin_client, states):
    """Routine issuance writes no event row: each access token's row, with client,
    user, family, time and the requester's address, is the issuance record."""
    row = AccessToken.objects.filter(family=states["rotated"].family).order_by("created_at").last()
    assert row.ip_address == "127.0.0.1" and row.refresh_token.parent == states["rotated"]
    assert not TokenEvent.objects.exists()
    html = admin_client.get(f"{BASE}/accesstoken/{row.pk}/change/").content.decode()
    assert "127.0.0.1" in html


# -- no page shows a credential -----------------------------------------------------------


def collect_admin_urls(admin_client) -> list[str]:
    urls = ["/admin/", f"{BASE}/"]
    for model in django_admin.site._registry:
        if model._meta.app_label != "oauth_tokens_provider":
            continue
        base = f"{BASE}/{model._meta.model_name}/"
        urls += [base, base + "?state=active", base + "?state=revoked", base + "?q=alice"]
        for pk in model.objects.values_list("pk", flat=True):
            urls += [f"{base}{pk}/change/", f"{base}{pk}/history/", f"{base}{pk}/delete/"]
    return urls


def test_no_admin_page_shows_any_credential(admin_client, client, user):
    """Run every flow, then crawl every admin page of the app and look for what was issued."""
    secrets: list[str] = []
    web = ClientFactory(name="Crawl web")
    secrets.append(web.secret)
    flow = Flow(client, web, user)
    verifier = crypto.new_token(40)
    code = flow.authorize(scope="read openid", verifier=verifier)
    secrets += [verifier, code]
    tokens = flow.token({"grant_type": "authorization_code", "code": code,
                         "redirect_uri": "https://app.example.test/cb", "code_verifier": verifier}).json()
    secrets += [tokens["access_token"], tokens["refresh_token"], tokens["id_token"]]
    second = flow.refresh(tokens["refresh_token"]).json()
    secrets += [second["access_token"], second["refresh_token"]]
    retry = flow.refresh(tokens["refresh_token"]).json()  # grace retry: same pair
    assert retry["refresh_token"] == second["refresh_token"]
    third = flow.refresh(second["refresh_token"]).json()
    secrets += [third["access_token"], third["refresh_token"]]
    assert flow.refresh(tokens["refresh_token"]).status_code == 400  # reuse: family revoked
    unused_code = flow.authorize(scope="read", verifier=verifier)
    secrets.append(unused_code)
    cc = flow.token({"grant_type": "client_credentials", "scope": "read"}).json()
    secrets.append(cc["access_token"])
    with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "DEVICE_AUTHORIZATION_ENABLED": True}):
        tv = PublicClientFactory(name="Crawl TV", grant_types=DEVICE_GRANT, redirect_uris="")
        started = client.post("/oauth/device_authorization", f"client_id={tv.client_id}",
                              content_type="application/x-www-form-urlencoded")
        assert started.status_code == 200, started.content
        started = started.json()
    secrets += [started["device_code"], started["user_code"], started["user_code"].replace("-", "")]
    created = admin_client.post(
        f"{BASE}/client/add/",
        {"name": "Crawl admin-made", "client_type": "confidential", "grant_types": ["client_credentials"],
         "redirect_uris": "", "scope": "read", "is_active": "on", "_save": "Save"},
    )
    shown = re.findall(r"<td><code>[^<]+</code></td><td><code>([^<]+)</code>", created.content.decode())
    assert len(shown) == 1
    secrets += shown
    keys.rotate()
    # What is stored must not show either: digests, ciphertexts.
    stored = [c.secret_digest for c in Client.objects.exclude(secret_digest="")]
    stored += list(AuthorizationCode.objects.values_list("digest", flat=True))
    stored += [d for pair in DeviceCode.objects.values_list("digest", "user_code_digest") for d in pair]
    stored += list(RefreshToken.objects.values_list("digest", flat=True))
    stored += [s for s in RefreshToken.objects.values_list("successor_response", flat=True) if s]
    stored += list(SigningKey.objects.values_list("private_key", flat=True))
    assert len(secrets) == 16 and len(stored) >= 10
    needles = secrets + stored + [d[:16] for d in stored]
    urls = collect_admin_urls(admin_client)
    assert len(urls) > 40
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code in (200, 302, 403), (url, response.status_code)
        html = response.content.decode()
        leaked = [n for n in needles if n in html]
        assert not leaked, f"{url} shows {len(leaked)} credential(s)"


def test_token_lists_put_state_and_expiry_first_and_shorten_ids(admin_client, states):
    for model in ("refreshtoken", "accesstoken"):
        response = admin_client.get(f"{BASE}/{model}/")
        headers = [h["text"] for h in response.context["result_headers"]]
        assert headers[2:4] == ["state", "expires at"], (model, headers)  # after the checkbox and the id
        html = response.content.decode()
        family = str(states["active"].family)
        # A family shows its last characters (the first are a time, alike for neighbours),
        # the whole id on hover, and links to its tokens.
        assert f'<a href="?q={family}" title="{family}">\u2026{family[-6:]}</a>' in html
        assert f">{family}<" not in html
    jti = AccessToken.objects.filter(client=states["web"]).first().jti
    html = admin_client.get(f"{BASE}/accesstoken/").content.decode()
    assert f'title="{jti}">\u2026{jti[-6:]}<' in html and f">{jti}<" not in html
    assert listed(admin_client, "refreshtoken", f"?q={family}") == set(
        RefreshToken.objects.filter(family=states["active"].family).values_list("pk", flat=True))


def test_token_events_name_the_client(admin_client, states):
    flow = states["flow"]
    assert flow.token({"grant_type": "client_credentials"}, auth="Basic " + "Zm9vOmJhcg==").status_code == 401
    web = states["web"]
    TokenEvent.objects.create(kind=TokenEvent.REVOKED, client=web, client_identifier=web.client_id)
    html = admin_client.get(f"{BASE}/tokenevent/").content.decode()
    assert f'<span title="{web.client_id}">Web</span>' in html
