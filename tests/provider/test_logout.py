"""OpenID Connect RP-Initiated Logout 1.0 over HTTP: GET/POST /oauth/logout."""

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from oauth_tokens.oauth2 import oidc
from oauth_tokens.provider import keys
from oauth_tokens.provider.models import AccessToken, RefreshToken
from tests.factories import ClientFactory, UserFactory
from tests.settings import OAUTH_TOKENS as TEST_OAUTH

ENABLED = {**TEST_OAUTH, "RP_INITIATED_LOGOUT_ENABLED": True}
AFTER = "https://app.example.test/logged-out"

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def logout_enabled(settings):
    settings.OAUTH_TOKENS = ENABLED


@pytest.fixture
def rp(db):
    return ClientFactory(name="Photo app", post_logout_redirect_uris=f"{AFTER}\nhttps://app.example.test/bye")


@pytest.fixture
def alice(client):
    user = UserFactory(username="alice")
    client.force_login(user)
    return user


def id_token(client, user, *, issued=None, issuer=TEST_OAUTH["ISSUER"], typ="JWT"):
    issued = int(time.time()) if issued is None else issued
    claims = oidc.id_token_claims(issuer=issuer, subject=str(user.pk), audience=client.client_id,
                                  issued_at=issued, lifetime=3600)
    return keys.sign(claims, typ=typ)


def signed_in(http):
    return "_auth_user_id" in http.session


def assert_error_page(response, text):
    assert response.status_code == 400, response.content
    assert "no-store" in response["Cache-Control"]
    assert "Location" not in response
    assert text in response.content.decode()


def csrf_of(page) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def hidden_fields(page) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content.decode()))


def test_discovery_lists_the_end_session_endpoint_only_when_enabled(client, settings):
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        assert client.get(path).json()["end_session_endpoint"] == "https://auth.example.test/oauth/logout"
    settings.OAUTH_TOKENS = TEST_OAUTH
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        assert "end_session_endpoint" not in client.get(path).json()


def test_off_it_is_a_404_and_nobody_is_logged_out(client, alice, settings):
    settings.OAUTH_TOKENS = TEST_OAUTH
    response = client.get("/oauth/logout")
    assert response.status_code == 404 and "no-store" in response["Cache-Control"]
    assert signed_in(client)


def test_without_a_hint_the_user_confirms_then_sees_the_logged_out_page(client, alice):
    page = client.get("/oauth/logout")
    text = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert "Log out?" in text and 'name="logout"' in text and "csrfmiddlewaretoken" in text and "alice" in text
    assert signed_in(client)
    done = client.post("/oauth/logout", {"logout": "1"})
    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    assert "You are logged out" in done.content.decode()
    assert not signed_in(client)


def test_a_hint_for_the_signed_in_user_logs_out_at_once_and_returns_with_state(client, alice, rp):
    response = client.get("/oauth/logout", {"id_token_hint": id_token(rp, alice),
                                            "post_logout_redirect_uri": AFTER, "state": "s t&8"})
    assert response.status_code == 303 and "no-store" in response["Cache-Control"]
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == AFTER
    assert parse_qs(location.query) == {"state": ["s t&8"]}
    assert not signed_in(client)


def test_always_prompt_asks_even_with_a_hint_and_the_form_carries_the_request(client, alice, rp, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "RP_INITIATED_LOGOUT_ALWAYS_PROMPT": True}
    hint = id_token(rp, alice)
    page = client.get("/oauth/logout", {"id_token_hint": hint, "post_logout_redirect_uri": AFTER, "state": "xyz",
                                        "ui_locales": "fr"})
    assert page.status_code == 200 and signed_in(client) and "Photo app" in page.content.decode()
    fields = hidden_fields(page)
    request_fields = {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}
    assert request_fields == {"id_token_hint": hint, "post_logout_redirect_uri": AFTER, "state": "xyz"}
    done = client.post("/oauth/logout", {**fields, "logout": "1"})
    assert done.status_code == 303 and done["Location"] == f"{AFTER}?state=xyz"
    assert not signed_in(client)


def test_a_hint_for_another_user_never_logs_out_without_confirmation(client, alice, rp):
    bob = UserFactory(username="bob")
    page = client.get("/oauth/logout", {"id_token_hint": id_token(rp, bob), "post_logout_redirect_uri": AFTER})
    assert page.status_code == 200 and "another account" in page.content.decode()
    assert signed_in(client)


def test_not_signed_in_goes_straight_back(client, rp):
    response = client.get("/oauth/logout", {"client_id": rp.client_id, "post_logout_redirect_uri": AFTER,
                                            "state": "1"})
    assert response.status_code == 303 and response["Location"] == f"{AFTER}?state=1"
    assert client.get("/oauth/logout").content.decode().count("You are logged out") == 1


def test_client_id_alone_allows_a_registered_uri_after_confirmation(client, alice, rp):
    page = client.get("/oauth/logout", {"client_id": rp.client_id, "post_logout_redirect_uri": AFTER})
    assert page.status_code == 200 and signed_in(client)
    done = client.post("/oauth/logout", {**hidden_fields(page), "logout": "1"})
    assert done.status_code == 303 and done["Location"] == AFTER


def test_an_expired_hint_is_still_a_hint(client, alice, rp, settings):
    old = id_token(rp, alice, issued=int(time.time()) - 2 * 3600)
    response = client.get("/oauth/logout", {"id_token_hint": old, "post_logout_redirect_uri": AFTER})
    assert response.status_code == 303 and not signed_in(client)


def test_a_hint_signed_with_a_rotated_out_key_still_verifies_a_deleted_key_does_not(client, alice, rp):
    hint = id_token(rp, alice)
    old_kid = keys.current_key()[0]
    keys.rotate()
    keys.reset_verification_cache()
    response = client.get("/oauth/logout", {"id_token_hint": hint, "post_logout_redirect_uri": AFTER})
    assert response.status_code == 303
    client.force_login(alice)
    keys.replace_compromised([old_kid])
    keys.reset_verification_cache()
    refused = client.get("/oauth/logout", {"id_token_hint": hint, "post_logout_redirect_uri": AFTER})
    assert_error_page(refused, "unknown key")
    assert signed_in(client)


@pytest.mark.parametrize("mangle, text", [
    (lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"), "id_token_hint"),
    (lambda t: "not-a-jwt", "id_token_hint is malformed"),
])
def test_a_forged_or_malformed_hint_is_an_error_page_not_a_redirect(client, alice, rp, mangle, text):
    response = client.get("/oauth/logout", {"id_token_hint": mangle(id_token(rp, alice)),
                                            "post_logout_redirect_uri": AFTER, "state": "s"})
    assert_error_page(response, text)
    assert signed_in(client)


def test_an_access_token_or_another_issuers_token_is_no_hint(client, alice, rp):
    assert_error_page(client.get("/oauth/logout", {"id_token_hint": id_token(rp, alice, typ="at+jwt")}),
                      "wrong type")
    other = id_token(rp, alice, issuer="https://elsewhere.example.test")
    assert_error_page(client.get("/oauth/logout", {"id_token_hint": other}), "another server")
    assert signed_in(client)


def test_a_client_id_that_does_not_match_the_hint_is_refused(client, alice, rp):
    other = ClientFactory(post_logout_redirect_uris=AFTER)
    response = client.get("/oauth/logout", {"id_token_hint": id_token(rp, alice), "client_id": other.client_id,
                                            "post_logout_redirect_uri": AFTER})
    assert_error_page(response, "does not match")
    assert signed_in(client)


@pytest.mark.parametrize("params, text", [
    ({"post_logout_redirect_uri": AFTER}, "needs an id_token_hint or a client_id"),
    ({"post_logout_redirect_uri": "https://evil.example.test/"}, "needs an id_token_hint or a client_id"),
    ({"client_id": "RP", "post_logout_redirect_uri": "https://evil.example.test/"}, "not registered"),
    ({"client_id": "RP", "post_logout_redirect_uri": AFTER + "/"}, "not registered"),
    ({"client_id": "RP", "post_logout_redirect_uri": AFTER + "?x=1"}, "not registered"),
    ({"client_id": "nobody"}, "Unknown or inactive client"),
])
def test_unvalidated_redirects_are_refused(client, alice, rp, params, text):
    params = {k: rp.client_id if v == "RP" else v for k, v in params.items()}
    assert_error_page(client.get("/oauth/logout", params), text)
    assert_error_page(client.post("/oauth/logout", {**params, "logout": "1"}), text)
    assert signed_in(client)


def test_the_redirect_uri_of_another_client_is_refused(client, alice, rp):
    ClientFactory(post_logout_redirect_uris="https://other.example.test/bye")
    response = client.get("/oauth/logout", {"id_token_hint": id_token(rp, alice),
                                            "post_logout_redirect_uri": "https://other.example.test/bye"})
    assert_error_page(response, "not registered")


def test_an_inactive_client_gets_no_redirect(client, alice, rp):
    rp.is_active = False
    rp.save()
    response = client.get("/oauth/logout", {"id_token_hint": id_token(rp, alice), "post_logout_redirect_uri": AFTER})
    assert_error_page(response, "Unknown or inactive client")


def test_repeated_parameters_are_refused(client, alice, rp):
    response = client.get(f"/oauth/logout?state=a&state=b&client_id={rp.client_id}")
    assert_error_page(response, "repeated")


def test_the_confirmation_needs_the_csrf_token_but_a_relying_partys_post_just_shows_the_page(alice, rp):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    # A relying party's own form, posted cross-site: the confirmation page.
    page = browser.post("/oauth/logout", {"client_id": rp.client_id, "post_logout_redirect_uri": AFTER})
    assert page.status_code == 200 and "Log out?" in page.content.decode()
    forged = browser.post("/oauth/logout", {"logout": "1"})
    assert forged.status_code == 403 and "no-store" in forged["Cache-Control"]
    assert signed_in(browser)
    done = browser.post("/oauth/logout", {**hidden_fields(page), "logout": "1",
                                          "csrfmiddlewaretoken": csrf_of(page)})
    assert done.status_code == 303 and done["Location"] == AFTER
    assert not signed_in(browser)


def make_tokens(client, user, flow_client):
    """An access and a refresh token of ``client`` for ``user`` (through the code flow)."""
    from tests.conftest import Flow

    return Flow(flow_client, client, user).code_tokens(scope="read")


@pytest.mark.parametrize("revoke", [True, False])
def test_the_users_tokens_of_that_client_are_revoked_when_asked(client, alice, rp, settings, revoke):
    settings.OAUTH_TOKENS = {**ENABLED, "RP_INITIATED_LOGOUT_REVOKE_TOKENS": revoke}
    other = ClientFactory()
    make_tokens(rp, alice, Client())
    make_tokens(other, alice, Client())
    response = client.get("/oauth/logout", {"id_token_hint": id_token(rp, alice), "post_logout_redirect_uri": AFTER})
    assert response.status_code == 303
    for model in (AccessToken, RefreshToken):
        assert model.objects.filter(client=rp, revoked_at__isnull=False).exists() is revoke
        assert not model.objects.filter(client=other, revoked_at__isnull=False).exists()


def test_an_id_token_from_the_code_flow_is_a_valid_hint(client, alice, rp):
    from tests.conftest import Flow

    issued = Flow(Client(), rp, alice).code_tokens(scope="openid read")
    response = client.get("/oauth/logout", {"id_token_hint": issued["id_token"], "post_logout_redirect_uri": AFTER})
    assert response.status_code == 303 and not signed_in(client)


def test_the_templates_can_be_overridden(client, alice, settings, tmp_path):
    (tmp_path / "oauth_tokens").mkdir()
    (tmp_path / "oauth_tokens" / "logout_confirm.html").write_text("Our own logout page {% csrf_token %}")
    (tmp_path / "oauth_tokens" / "logged_out.html").write_text("Bye from us")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path), *settings.TEMPLATES[0]["DIRS"]]}]
    assert client.get("/oauth/logout").content.decode().startswith("Our own logout page")
    assert client.post("/oauth/logout", {"logout": "1"}).content.decode() == "Bye from us"


def test_the_admin_edits_the_post_logout_uris_and_the_par_requirement(admin_client, rp):
    from tests.provider.test_admin import change_url, client_form

    page = admin_client.get(change_url(rp)).content.decode()
    assert 'name="post_logout_redirect_uris"' in page and 'name="require_pushed_authorization_requests"' in page
    refused = admin_client.post(change_url(rp), client_form(post_logout_redirect_uris="javascript:alert(1)"))
    assert refused.status_code == 200 and "is not allowed" in refused.content.decode()
    saved = admin_client.post(change_url(rp), client_form(
        post_logout_redirect_uris=" https://app.example.test/bye \r\n\r\nhttps://app.example.test/later ",
        require_pushed_authorization_requests="on"))
    assert saved.status_code == 302
    rp.refresh_from_db()
    assert rp.post_logout_redirect_uri_list == ["https://app.example.test/bye", "https://app.example.test/later"]
    assert rp.require_pushed_authorization_requests
