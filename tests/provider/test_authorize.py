"""GET/POST /oauth/authorize: login, consent page, CSRF, the decision redirect.

Redirect URI attacks (SPEC-CHECKLIST 21/23) live in test_authorize_redirects.py,
hostile input in test_authorize_hostile.py.
"""

from datetime import timedelta
from html.parser import HTMLParser
from unittest import mock
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client as HttpClient
from django.test import override_settings
from django.utils import timezone

from oauth_tokens.oauth2.pkce import s256
from oauth_tokens.provider.models import AuthorizationCode
from tests.conftest import REDIRECT, VERIFIER
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

TEST_OAUTH = {
    "ISSUER": "https://auth.example.test",
    "ENCRYPTION_KEYS": ["ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="],
    "DIGEST_KEY": "test-digest-key",
}


class FormParser(HTMLParser):
    """Collects the inputs and buttons of the first <form> in a page."""

    def __init__(self):
        super().__init__()
        self.in_form = False
        self.forms = 0
        self.method = None
        self.action = None
        self.inputs: list[tuple[str, str, str]] = []  # (tag/type, name, value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.forms == 0:
            self.in_form, self.forms = True, 1
            self.method, self.action = attrs.get("method"), attrs.get("action")
        elif self.in_form and tag in ("input", "button"):
            kind = attrs.get("type", "submit" if tag == "button" else "text")
            self.inputs.append((kind, attrs.get("name") or "", attrs.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False


def parse_form(html: str) -> FormParser:
    parser = FormParser()
    parser.feed(html)
    return parser


def auth_params(client, **overrides):
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT,
        "scope": "read",
        "state": "xyz-state",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize_url(client, **overrides) -> str:
    return "/oauth/authorize?" + urlencode(auth_params(client, **overrides))


def query_of(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


def redeem(http, client, code, *, verifier=VERIFIER, redirect_uri=REDIRECT):
    from tests.conftest import basic

    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    return http.post(
        "/oauth/token",
        urlencode(body),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(client.client_id, client.secret),
    )


# -- login ---------------------------------------------------------------------------


def test_anonymous_get_redirects_to_login_with_next(client, oauth_client):
    url = authorize_url(oauth_client)
    response = client.get(url)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/accounts/login/"
    assert parse_qs(location.query)["next"] == [url]


def test_anonymous_post_creates_no_code(client, oauth_client):
    response = client.post("/oauth/authorize", {**auth_params(oauth_client), "allow": "1"})
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"
    assert AuthorizationCode.objects.count() == 0


@override_settings(LOGIN_URL="/elsewhere/login")
def test_login_url_setting_is_honoured(client, oauth_client):
    response = client.get(authorize_url(oauth_client))
    assert urlsplit(response["Location"]).path == "/elsewhere/login"


def test_login_then_next_comes_back_to_the_consent_page(client, oauth_client, user):
    url = authorize_url(oauth_client)
    login_page = client.get(client.get(url)["Location"])
    assert login_page.status_code == 200
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "pw", "next": url}
    )
    assert response.status_code == 302 and response["Location"] == url
    consent = client.get(url)
    assert consent.status_code == 200 and oauth_client.name in consent.content.decode()


# -- consent page ---------------------------------------------------------------------


def test_consent_page_lists_client_and_scopes_with_descriptions(client, user):
    oauth_client = ClientFactory(name="Photo Printer")
    client.force_login(user)
    response = client.get(authorize_url(oauth_client, scope="read write"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Photo Printer" in html
    assert "Read your data" in html and "Change your data" in html
    assert "alice" in html
    assert "app.example.test" in html  # where the user will be sent
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]


@override_settings(OAUTH_TOKENS={**TEST_OAUTH, "SCOPES": {"read": "Look at your photos", "print": "Print them"}})
def test_consent_page_uses_scope_descriptions_from_settings(client, user):
    oauth_client = ClientFactory(scope="read print")
    client.force_login(user)
    html = client.get(authorize_url(oauth_client, scope="read print")).content.decode()
    assert "Look at your photos" in html and "Print them" in html
    assert "Read your data" not in html


def test_client_name_is_escaped(client, user):
    oauth_client = ClientFactory(name="<script>alert(1)</script>")
    client.force_login(user)
    html = client.get(authorize_url(oauth_client)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_consent_template_can_be_overridden(client, user, oauth_client, tmp_path, settings):
    (tmp_path / "my_consent.html").write_text(
        "MY CONSENT for {{ client.name }}: {% for name, text in scopes %}[{{ name }}={{ text }}]{% endfor %}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "CONSENT_TEMPLATE": "my_consent.html"}
    client.force_login(user)
    html = client.get(authorize_url(oauth_client)).content.decode()
    assert html == f"MY CONSENT for {oauth_client.name}: [read=Read your data]"


def test_consent_form_posts_hidden_inputs_and_allow_deny_buttons(client, user, oauth_client):
    client.force_login(user)
    form = parse_form(client.get(authorize_url(oauth_client, nonce="n-1")).content.decode())
    assert form.method == "post"
    hidden = {name: value for kind, name, value in form.inputs if kind == "hidden"}
    assert hidden.pop("csrfmiddlewaretoken")
    assert hidden == {
        "response_type": "code",
        "client_id": oauth_client.client_id,
        "redirect_uri": REDIRECT,
        "scope": "read",
        "state": "xyz-state",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        "nonce": "n-1",
    }
    buttons = {name for kind, name, _ in form.inputs if kind == "submit"}
    assert buttons == {"allow", "deny"}


# -- the whole round trip through a CSRF-checking browser -------------------------------


def browser_decision(user, url, button):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(user)
    page = browser.get(url)
    assert page.status_code == 200
    form = parse_form(page.content.decode())
    data = {name: value for kind, name, value in form.inputs if kind == "hidden"}
    data[button] = dict((n, v) for k, n, v in form.inputs if k == "submit")[button]
    # No action attribute: the browser posts to the page's own URL.
    target = form.action or url
    return browser, browser.post(target, data)


def test_allow_redirects_303_to_the_exact_redirect_uri_with_code_and_state(user, oauth_client):
    browser, response = browser_decision(user, authorize_url(oauth_client), "allow")
    assert response.status_code == 303
    location = response["Location"]
    assert location.startswith(REDIRECT + "?")
    query = query_of(location)
    assert set(query) == {"code", "state", "iss"}
    assert query["state"] == ["xyz-state"]
    assert query["iss"] == ["https://auth.example.test"]  # RFC 9207
    token = redeem(browser, oauth_client, query["code"][0])
    assert token.status_code == 200, token.content
    assert token.json()["scope"] == "read"


def test_deny_redirects_303_with_access_denied_and_state(user, oauth_client):
    _, response = browser_decision(user, authorize_url(oauth_client), "deny")
    assert response.status_code == 303
    assert response["Location"].startswith(REDIRECT + "?")
    query = query_of(response["Location"])
    assert query["error"] == ["access_denied"] and query["state"] == ["xyz-state"]
    assert query["iss"] == ["https://auth.example.test"]  # RFC 9207: error responses too
    assert "code" not in query
    assert AuthorizationCode.objects.count() == 0


def test_post_without_csrf_token_is_refused(user, oauth_client):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post("/oauth/authorize", {**auth_params(oauth_client), "allow": "1"})
    assert response.status_code == 403
    assert not response.has_header("Location")
    assert AuthorizationCode.objects.count() == 0


WITHOUT_CSRF_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]


@override_settings(MIDDLEWARE=WITHOUT_CSRF_MIDDLEWARE)
def test_consent_is_csrf_protected_without_the_csrf_middleware(user, oauth_client):
    """A host project without CsrfViewMiddleware: another site's form must not get a code."""
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.post("/oauth/authorize", {**auth_params(oauth_client), "allow": "1"}).status_code == 403
    page = browser.get(authorize_url(oauth_client))  # the victim saw the page once: the cookie is set
    assert page.status_code == 200 and "csrftoken" in browser.cookies
    forged = browser.post("/oauth/authorize", {**auth_params(oauth_client), "allow": "1"},
                          HTTP_ORIGIN="https://evil.example", HTTP_REFERER="https://evil.example/page")
    assert forged.status_code == 403 and not forged.has_header("Location")
    assert AuthorizationCode.objects.count() == 0
    # The genuine form, posted from the page, still works.
    _, response = browser_decision(user, authorize_url(oauth_client), "allow")
    assert response.status_code == 303 and "code" in query_of(response["Location"])
    assert AuthorizationCode.objects.count() == 1


def test_post_with_neither_button_is_an_error_page(client, user, oauth_client):
    client.force_login(user)
    response = client.post("/oauth/authorize", auth_params(oauth_client))
    assert response.status_code == 400 and not response.has_header("Location")
    assert AuthorizationCode.objects.count() == 0


def test_post_with_both_buttons_issues_no_code(client, user, oauth_client):
    client.force_login(user)
    response = client.post("/oauth/authorize", {**auth_params(oauth_client), "allow": "1", "deny": "1"})
    assert response.status_code == 400 and not response.has_header("Location")
    assert AuthorizationCode.objects.count() == 0


def test_state_is_optional(client, user, oauth_client):
    client.force_login(user)
    response = client.post("/oauth/authorize", {**auth_params(oauth_client, state=None), "allow": "1"})
    assert response.status_code == 303
    assert set(query_of(response["Location"])) == {"code", "iss"}


def test_redirect_uri_may_be_omitted_when_exactly_one_is_registered(client, user):
    oauth_client = ClientFactory(redirect_uris=REDIRECT)
    client.force_login(user)
    response = client.post("/oauth/authorize", {**auth_params(oauth_client, redirect_uri=None), "allow": "1"})
    assert response.status_code == 303 and response["Location"].startswith(REDIRECT + "?")
    code = query_of(response["Location"])["code"][0]
    assert redeem(client, oauth_client, code).status_code == 200


def test_registered_redirect_uri_with_query_keeps_it(client, user):
    registered = "https://app.example.test/cb?tenant=7"
    oauth_client = ClientFactory(redirect_uris=registered)
    client.force_login(user)
    response = client.post("/oauth/authorize", {**auth_params(oauth_client, redirect_uri=registered), "allow": "1"})
    assert response.status_code == 303
    assert response["Location"].startswith(registered + "&code=")
    assert query_of(response["Location"])["tenant"] == ["7"]


def test_native_app_private_scheme_redirect(client, user):
    registered = "com.example.app:/oauth2redirect"
    oauth_client = ClientFactory(redirect_uris=registered)
    client.force_login(user)
    response = client.post("/oauth/authorize", {**auth_params(oauth_client, redirect_uri=registered), "allow": "1"})
    assert response.status_code == 303
    assert response["Location"].startswith(registered + "?code=")


def test_unicode_state_round_trips(client, user, oauth_client):
    client.force_login(user)
    state = "é✓ 日本 &x=1#frag"
    response = client.post("/oauth/authorize", {**auth_params(oauth_client, state=state), "allow": "1"})
    assert response.status_code == 303
    assert query_of(response["Location"])["state"] == [state]
    assert "#" not in response["Location"]


# -- errors sent back to the (verified) redirect URI -------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code token"}, "unsupported_response_type"),
        ({"scope": "read admin"}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
    ],
)
def test_errors_redirect_with_error_and_state(client, user, oauth_client, method, overrides, error):
    client.force_login(user)
    params = auth_params(oauth_client, **overrides)
    response = client.get("/oauth/authorize", params) if method == "get" else client.post(
        "/oauth/authorize", {**params, "allow": "1"}
    )
    assert response.status_code == 303
    assert response["Location"].startswith(REDIRECT + "?")
    query = query_of(response["Location"])
    assert query["error"] == [error]
    assert query["state"] == ["xyz-state"]
    assert query["iss"] == ["https://auth.example.test"]  # RFC 9207
    assert query["error_description"][0]
    assert "code" not in query
    assert AuthorizationCode.objects.count() == 0


def test_public_client_without_pkce_gets_invalid_request(client, user, public_client):
    client.force_login(user)
    response = client.get("/oauth/authorize", auth_params(public_client, code_challenge=None,
                                                          code_challenge_method=None))
    assert response.status_code == 303
    assert query_of(response["Location"])["error"] == ["invalid_request"]


@override_settings(OAUTH_TOKENS={**TEST_OAUTH, "PKCE_REQUIRED": False})
def test_confidential_client_may_skip_pkce_when_setting_allows(client, user, oauth_client, public_client):
    client.force_login(user)
    no_pkce = {"code_challenge": None, "code_challenge_method": None}
    response = client.post("/oauth/authorize", {**auth_params(oauth_client, **no_pkce), "allow": "1"})
    assert response.status_code == 303 and "code" in query_of(response["Location"])
    # Public clients always need it.
    response = client.get("/oauth/authorize", auth_params(public_client, **no_pkce))
    assert query_of(response["Location"])["error"] == ["invalid_request"]


def test_client_without_code_grant_gets_unauthorized_client(client, user):
    oauth_client = ClientFactory(grant_types="client_credentials")
    client.force_login(user)
    response = client.get("/oauth/authorize", auth_params(oauth_client))
    assert response.status_code == 303
    assert query_of(response["Location"])["error"] == ["unauthorized_client"]


def test_scope_defaults_to_the_clients_scopes(client, user):
    oauth_client = ClientFactory(scope="read write")
    client.force_login(user)
    html = client.get(authorize_url(oauth_client, scope=None)).content.decode()
    assert "Read your data" in html and "Change your data" in html


# -- pages that must not redirect ---------------------------------------------------------


def assert_error_page(response):
    assert response.status_code == 400, response.content[:300]
    assert not response.has_header("Location")
    assert b"cannot be completed" in response.content
    assert AuthorizationCode.objects.count() == 0


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_client_is_an_error_page(client, user, oauth_client, method):
    client.force_login(user)
    params = {**auth_params(oauth_client, client_id="no-such-client"), "allow": "1"}
    assert_error_page(getattr(client, method)("/oauth/authorize", params))


def test_missing_client_id_is_an_error_page(client, user, oauth_client):
    client.force_login(user)
    assert_error_page(client.get("/oauth/authorize", auth_params(oauth_client, client_id=None)))


def test_inactive_client_is_an_error_page(client, user, oauth_client):
    oauth_client.is_active = False
    oauth_client.save()
    client.force_login(user)
    assert_error_page(client.post("/oauth/authorize", {**auth_params(oauth_client), "allow": "1"}))


def test_missing_redirect_uri_with_several_registered_is_an_error_page(client, user, oauth_client):
    client.force_login(user)
    assert_error_page(client.get("/oauth/authorize", auth_params(oauth_client, redirect_uri=None)))


@pytest.mark.parametrize("name", ["client_id", "redirect_uri", "state", "scope", "response_type", "code_challenge"])
def test_repeated_parameter_is_an_error_page(client, user, oauth_client, name):
    client.force_login(user)
    params = auth_params(oauth_client)
    query = urlencode(params) + "&" + urlencode({name: params[name]})
    assert_error_page(client.get("/oauth/authorize?" + query))
    body = urlencode({**params, "allow": "1"}) + "&" + urlencode({name: params[name]})
    assert_error_page(client.post("/oauth/authorize", body, content_type="application/x-www-form-urlencoded"))


def test_error_page_has_no_cache_and_frame_protection(client, user, oauth_client):
    client.force_login(user)
    response = client.get("/oauth/authorize", auth_params(oauth_client, client_id="nope"))
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]


def test_error_page_does_not_echo_input(client, user, oauth_client):
    client.force_login(user)
    evil = "<img src=x onerror=alert(1)>"
    response = client.get("/oauth/authorize", auth_params(oauth_client, redirect_uri="https://evil.test/" + evil))
    assert_error_page(response)
    assert b"<img" not in response.content and b"evil.test" not in response.content


# -- the code: single use, short-lived ------------------------------------------------------


def issue_code(http, user, oauth_client):
    http.force_login(user)
    response = http.post("/oauth/authorize", {**auth_params(oauth_client), "allow": "1"})
    assert response.status_code == 303
    return query_of(response["Location"])["code"][0]


def test_code_is_single_use(client, user, oauth_client):
    code = issue_code(client, user, oauth_client)
    assert redeem(client, oauth_client, code).status_code == 200
    again = redeem(client, oauth_client, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_code_is_bound_to_the_verifier_and_redirect_uri(client, user, oauth_client):
    code = issue_code(client, user, oauth_client)
    wrong = redeem(client, oauth_client, code, verifier="x" * 43)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    other = redeem(client, oauth_client, code, redirect_uri="http://127.0.0.1/cb")
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    assert redeem(client, oauth_client, code).status_code == 200


def at(offset_seconds):
    moment = timezone.now() + timedelta(seconds=offset_seconds)
    return mock.patch("django.utils.timezone.now", return_value=moment)


def test_code_expires_after_the_default_60_seconds(client, user, oauth_client):
    code = issue_code(client, user, oauth_client)
    row = AuthorizationCode.objects.get()
    assert 59 <= (row.expires_at - row.created_at).total_seconds() <= 61
    with at(61):
        response = redeem(client, oauth_client, code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_code_works_just_before_it_expires(client, user, oauth_client):
    code = issue_code(client, user, oauth_client)
    with at(55):
        assert redeem(client, oauth_client, code).status_code == 200


@override_settings(OAUTH_TOKENS={**TEST_OAUTH, "AUTHORIZATION_CODE_LIFETIME": 300})
def test_code_lifetime_setting(client, user, oauth_client):
    code = issue_code(client, user, oauth_client)
    with at(240):
        assert redeem(client, oauth_client, code).status_code == 200
    code = issue_code(client, user, oauth_client)
    with at(301):
        assert redeem(client, oauth_client, code).json()["error"] == "invalid_grant"


def test_code_of_one_client_is_refused_for_another(client, user, oauth_client):
    code = issue_code(client, user, oauth_client)
    other = ClientFactory()
    response = redeem(client, other, code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert redeem(client, oauth_client, code).status_code == 200


def test_code_carries_the_user_and_granted_scope(client, user, oauth_client):
    client.force_login(user)
    response = client.post("/oauth/authorize", {**auth_params(oauth_client, scope="write read"), "allow": "1"})
    code = query_of(response["Location"])["code"][0]
    tokens = redeem(client, oauth_client, code).json()
    assert tokens["scope"] == "write read"
    me = client.get("/api/me", HTTP_AUTHORIZATION="Bearer " + tokens["access_token"])
    assert me.status_code == 200 and me.json()["sub"] == str(user.pk)
