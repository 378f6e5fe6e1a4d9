"""What a client puts around the OAuth parameters (cookies, body size, methods)
never turns into a 500 or a bare HTML page (issue 11, failures 4-6, found by
fuzzing the example project on gunicorn + PostgreSQL)."""

import pytest
from django.conf import settings

from tests.conftest import REDIRECT
from tests.provider.test_token_hostile import oauth_error

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
ENDPOINTS = ["/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/userinfo", "/oauth/par"]


def authorize_url(flow, **extra):
    params = {"response_type": "code", "client_id": flow.client.client_id, "redirect_uri": REDIRECT,
              "scope": "read", "code_challenge": "x" * 43, "code_challenge_method": "S256", **extra}
    return "/oauth/authorize?" + "&".join(f"{k}={v}" for k, v in params.items())


# -- failure 4: a NUL byte in the session cookie (PostgreSQL: DataError, a 500) ------------


def test_a_nul_byte_in_the_session_cookie_is_treated_as_no_session(flow):
    flow.http.cookies[settings.SESSION_COOKIE_NAME] = "abc\x00def" + "0" * 24
    r = flow.http.get(authorize_url(flow))
    assert r.status_code == 302 and r["Location"].startswith(settings.LOGIN_URL)
    assert r.cookies[settings.SESSION_COOKIE_NAME].value == ""  # the unusable cookie is deleted


def test_a_nul_byte_in_the_session_cookie_of_a_consent_post_is_no_500(flow):
    flow.http.cookies[settings.SESSION_COOKIE_NAME] = "\x00"
    r = flow.http.post(authorize_url(flow), {"allow": "1"})
    assert r.status_code in (302, 403)  # to the login page, or refused by CSRF: never a 500


def test_the_consumer_views_ignore_a_nul_session_cookie_too(client):
    client.cookies[settings.SESSION_COOKIE_NAME] = "abc\x00def"
    r = client.get("/oauth/connect/self/")
    assert r.status_code == 302 and r["Location"].startswith(settings.LOGIN_URL)


# -- failure 5: bodies and URLs too large for Django -----------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_body_over_djangos_limit_is_an_oauth_error_not_an_html_400(flow, path, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "MAX_BODY_SIZE": 100_000}
    body = "token=" + "x" * 5000
    r = flow.http.post(path, body, content_type=FORM, HTTP_AUTHORIZATION="Bearer abc")
    oauth_error(r, 413)


def test_a_form_body_over_2_5_mb_at_userinfo_with_a_bearer_header(flow):
    r = flow.http.post("/oauth/userinfo", "a=" + "x" * 2_700_000, content_type=FORM, HTTP_AUTHORIZATION="Bearer a")
    oauth_error(r, 413)


def test_a_form_body_over_2_5_mb_at_a_protected_view_is_an_oauth_json_error(flow):
    r = flow.http.post("/api/me", "a=" + "x" * 2_700_000, content_type=FORM, HTTP_AUTHORIZATION="Bearer a")
    assert r.status_code == 413 and r["Content-Type"] == "application/json"
    assert r.json()["error"] == "invalid_request"


def test_too_many_form_fields_at_userinfo_are_an_oauth_error(flow):
    body = "&".join(f"a{i}=b" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5))
    r = flow.http.post("/oauth/userinfo", body + "&access_token=x", content_type=FORM, HTTP_AUTHORIZATION="Bearer a")
    assert r.status_code in (400, 401) and r["Cache-Control"] == "no-store"
    assert r["Content-Type"] == "application/json"


@pytest.mark.parametrize("logged_in", [False, True])
def test_an_authorize_url_over_16_kb_gets_the_error_page_not_djangos_400(flow, logged_in):
    if logged_in:
        flow.http.force_login(flow.user)
    r = flow.http.get(authorize_url(flow, state="s" * 17_000))
    assert r.status_code == 400
    assert b"This authorization request cannot be completed" in r.content
    assert "no-store" in r["Cache-Control"]


def test_an_authorize_url_with_too_many_parameters_gets_the_error_page(flow):
    flow.http.force_login(flow.user)
    extra = "&".join(f"x{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5))
    r = flow.http.get(authorize_url(flow) + "&" + extra)
    assert r.status_code == 400 and b"too large" in r.content


# -- failure 6: OPTIONS (and every other answer) is no-store ----------------------------------


@pytest.mark.parametrize("path", ENDPOINTS + ["/oauth/token/access_token"])
@pytest.mark.parametrize("method", ["OPTIONS", "HEAD", "PUT", "DELETE"])
def test_every_answer_of_the_oauth_endpoints_is_no_store(flow, path, method):
    r = flow.http.generic(method, path)
    assert r.status_code < 500
    assert r["Cache-Control"] == "no-store" and r["Pragma"] == "no-cache"


# -- protected DRF views: errors are no-store with the package's exception handler -----------


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic abc"])
def test_errors_of_a_protected_drf_view_are_no_store(flow, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    r = flow.http.get("/api/me", **extra)
    assert r.status_code in (401, 403)
    assert r["Cache-Control"] == "no-store"


# -- browser views: what the CSRF check reads first is caught too ---------------------------


def test_a_huge_consent_post_gets_the_error_page_even_with_csrf_middleware(flow, settings):
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE
    flow.http.force_login(flow.user)
    r = flow.http.post(authorize_url(flow), "allow=1&x=" + "y" * 2_700_000, content_type=FORM)
    assert r.status_code == 400 and b"This authorization request cannot be completed" in r.content
    assert "no-store" in r["Cache-Control"]


def test_consent_still_needs_the_csrf_token(flow):
    from django.test import Client

    http = Client(enforce_csrf_checks=True)
    http.force_login(flow.user)
    r = http.post(authorize_url(flow), {"allow": "1"})
    assert r.status_code == 403
    from oauth_tokens.provider.models import AuthorizationCode

    assert not AuthorizationCode.objects.exists()


def test_a_malformed_multipart_consent_post_gets_the_error_page(flow):
    flow.http.force_login(flow.user)
    r = flow.http.post(authorize_url(flow), b"\xf9\xba\x99", content_type="multipart/form-data")
    assert r.status_code == 400 and b"This authorization request cannot be completed" in r.content
    assert "no-store" in r["Cache-Control"]


@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server/a%0Ab",
                                  "/a%0Ab/.well-known/openid-configuration"])
def test_a_path_inserted_discovery_url_with_a_newline_is_an_oauth_404(flow, path):
    r = flow.http.get(path)
    oauth_error(r, 404)


def test_too_many_query_fields_at_a_protected_drf_view_are_an_oauth_error(flow):
    extra = "&".join(f"x{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5))
    r = flow.http.get("/api/me?" + extra, HTTP_AUTHORIZATION="Bearer abc")
    oauth_error(r, 400)


def test_the_drf_exception_handler_maps_every_refused_request_like_the_oauth_endpoints():
    from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
    from django.http import UnreadablePostError

    from oauth_tokens.resource.errors import exception_handler

    answers = {kind.__name__: exception_handler(kind("x"), {})
               for kind in (RequestDataTooBig, TooManyFieldsSent, UnreadablePostError)}
    assert {name: r.status_code for name, r in answers.items()} == {
        "RequestDataTooBig": 413, "TooManyFieldsSent": 400, "UnreadablePostError": 400}
    assert all(r["Cache-Control"] == "no-store" for r in answers.values())
