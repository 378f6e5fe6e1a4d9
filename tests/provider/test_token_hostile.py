"""Hostile input at the token endpoint: every one gets a clear 4xx OAuth JSON
error with ``Cache-Control: no-store``, never a token, never a 500
(RFC 6749 sections 2.3.1, 3.2, 5.2; SPEC-CHECKLIST token endpoint cases)."""

import base64
import json

import pytest

from oauth_tokens.provider.models import AccessToken, TokenEvent
from tests.conftest import basic

pytestmark = pytest.mark.django_db


def oauth_error(response, status=400, code="invalid_request"):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"
    body = response.json()
    assert body["error"] == code and body["error_description"], body
    assert "access_token" not in body
    return body


def cc_form(flow):
    return f"grant_type=client_credentials&client_id={flow.client.client_id}&client_secret={flow.client.secret}"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE", "BREW"])
def test_other_methods_never_issue_a_token(flow, method):
    r = flow.http.generic(method, "/oauth/token", cc_form(flow), content_type="application/x-www-form-urlencoded")
    assert r.status_code == 405 and "POST" in r["Allow"]
    oauth_error(r, 405)
    assert AccessToken.objects.count() == 0


def test_head_never_issues_a_token(flow):
    r = flow.http.head("/oauth/token?" + cc_form(flow))
    assert r.status_code in (400, 405) and r["Cache-Control"] == "no-store"
    assert AccessToken.objects.count() == 0


def test_get_with_token_request_parameters_never_issues_a_token(flow):
    r = flow.http.get("/oauth/token?" + cc_form(flow))
    oauth_error(r, 400)  # GET is the validation endpoint; no bearer header
    assert AccessToken.objects.count() == 0


def test_options_issues_no_token(flow):
    r = flow.http.options("/oauth/token")
    assert r.status_code == 200 and "POST" in r["Allow"] and b"access_token" not in r.content


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b"\xc3\x28:\xa0\xa1").decode(),
        "Basic " + base64.b64encode(b"client\x00:secret").decode(),
        "Basic " + base64.b64encode(b"client:%00").decode(),
        "Basic " + base64.b64encode(b":secret").decode(),
        "Basic",
        "Basic =",
        "Basic " + "A" * 3000,
    ],
)
def test_malformed_basic_is_401_with_a_basic_challenge(flow, header):
    r = flow.token({"grant_type": "client_credentials"}, auth=header)
    oauth_error(r, 401, "invalid_client")
    assert r["WWW-Authenticate"].startswith("Basic ")


def test_non_latin1_authorization_header_is_handled(flow):
    r = flow.http.post("/oauth/token", cc_form(flow), content_type="application/x-www-form-urlencoded",
                       HTTP_AUTHORIZATION="Basic \u00e9\u00e9\u00e9")
    oauth_error(r, 401, "invalid_client")


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "application/json"])
def test_one_megabyte_body_is_refused(flow, content_type):
    body = "grant_type=client_credentials&pad=" + "a" * (1024 * 1024)
    if content_type == "application/json":
        body = json.dumps({"grant_type": "client_credentials", "pad": "a" * (1024 * 1024)})
    r = flow.http.post("/oauth/token", body, content_type=content_type)
    assert 400 <= r.status_code < 500
    oauth_error(r, r.status_code)


def test_body_just_under_the_limit_is_parsed(flow):
    data = cc_form(flow) + "&pad=" + "a" * (16 * 1024 - len(cc_form(flow)) - 10)
    r = flow.http.post("/oauth/token", data, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200, r.content


@pytest.mark.parametrize(
    "body",
    [b"{", b"{'grant_type': 'client_credentials'}", b"\xff\xfe\x00", b"[]", b'"x"', b"null", b"1e999999",
     b'{"grant_type": ["client_credentials"]}', b'{"grant_type": {"$ne": 1}}', b'{"grant_type": true}',
     b"[" * 5000 + b"]" * 5000, b'{"client_id": "\\ud800", "client_secret": "x", "grant_type": "client_credentials"}'],
)
def test_bad_json_is_invalid_request(flow, body):
    oauth_error(flow.http.post("/oauth/token", body, content_type="application/json"))


def test_duplicate_json_keys_are_invalid_request(flow):
    body = f'{{"grant_type": "client_credentials", "client_id": "{flow.client.client_id}", ' \
           f'"client_secret": "{flow.client.secret}", "grant_type": "client_credentials"}}'
    oauth_error(flow.http.post("/oauth/token", body, content_type="application/json"))


@pytest.mark.parametrize("extra", ["&grant_type=client_credentials", "&scope=read&scope=write",
                                   "&client_secret=other"])
def test_duplicated_form_parameters_are_invalid_request(flow, extra):
    r = flow.http.post("/oauth/token", cc_form(flow) + extra, content_type="application/x-www-form-urlencoded")
    assert "repeated" in oauth_error(r)["error_description"]
    assert AccessToken.objects.count() == 0


@pytest.mark.parametrize("body", ["grant_type=client_credentials%00", "grant_type=client_credentials&scope=re%00ad",
                                  "grant_type=client_credentials&client_id=a%00b&client_secret=x"])
def test_nul_bytes_are_invalid_request(flow, body):
    oauth_error(flow.http.post("/oauth/token", body, content_type="application/x-www-form-urlencoded"))


def test_nul_bytes_in_json_are_invalid_request(flow):
    body = json.dumps({"grant_type": "client_credentials", "client_id": "a\x00", "client_secret": "x"})
    oauth_error(flow.http.post("/oauth/token", body, content_type="application/json"))


@pytest.mark.parametrize("body", ["grant_type=client_credentials&scope=%ff", "client_id=%c3%28"])
def test_bad_utf8_in_form_is_invalid_request(flow, body):
    oauth_error(flow.http.post("/oauth/token", body, content_type="application/x-www-form-urlencoded"))


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x",
                                          "application/jsonp", ""])
def test_wrong_content_type_is_invalid_request(flow, content_type):
    r = flow.http.generic("POST", "/oauth/token", cc_form(flow), content_type=content_type)
    assert "Content-Type" in oauth_error(r)["error_description"]
    assert AccessToken.objects.count() == 0


def test_multipart_form_is_refused(flow):
    data = {"grant_type": "client_credentials", "client_id": flow.client.client_id, "client_secret": flow.client.secret}
    oauth_error(flow.http.post("/oauth/token", data))  # the test client's default is multipart
    assert AccessToken.objects.count() == 0


@pytest.mark.parametrize("name", ["client_secret", "refresh_token", "code", "code_verifier", "access_token"])
def test_credentials_in_the_query_string_are_rejected(flow, name):
    r = flow.http.post(f"/oauth/token?{name}=leak", cc_form(flow), content_type="application/x-www-form-urlencoded")
    body = oauth_error(r)
    assert "leak" not in json.dumps(body)
    assert AccessToken.objects.count() == 0


def test_invalid_content_length_is_handled(flow):
    r = flow.http.generic("POST", "/oauth/token", cc_form(flow), content_type="application/x-www-form-urlencoded",
                          CONTENT_LENGTH="abc")
    assert r.status_code in (200, 400), r.content


def test_garbage_remote_addr_does_not_break_the_audit_trail(flow):
    r = flow.token({"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
                   REMOTE_ADDR="not-an-ip")
    oauth_error(r, 401, "invalid_client")
    assert TokenEvent.objects.get(kind=TokenEvent.AUTH_FAILED).ip_address is None


def test_error_descriptions_never_echo_secrets(flow):
    r = flow.token({"grant_type": "client_credentials"}, auth=basic(flow.client.client_id, "s3cr3t-guess"))
    assert "s3cr3t-guess" not in r.content.decode()
    r = flow.token({"grant_type": "refresh_token", "refresh_token": "rt-value-123"})
    assert "rt-value-123" not in r.content.decode()


# -- brute force (RFC 6749 2.3.1, OAuth 2.1: a MUST) --------------------------------------
# More in test_client_auth_lockout.py: nobody can lock a working client out.
def test_fifty_bad_secrets_are_throttled(flow):
    statuses = []
    for i in range(50):
        r = flow.token({"grant_type": "client_credentials"}, auth=basic(flow.client.client_id, f"guess-{i}"))
        statuses.append(r.status_code)
    assert statuses[:10] == [401] * 10
    assert set(statuses[10:]) == {429}
    assert int(r["Retry-After"]) > 0
    oauth_error(r, 429, "invalid_client")
    assert AccessToken.objects.count() == 0
    assert TokenEvent.objects.filter(kind=TokenEvent.AUTH_FAILED).count() == 10
    # The counters only ever answer wrong secrets: the right one still authenticates.
    assert flow.token({"grant_type": "client_credentials"}).status_code == 200


def wrong(flow, **headers):
    return flow.token({"grant_type": "client_credentials"}, auth=basic(flow.client.client_id, "wrong"), **headers)


def test_throttle_also_counts_per_address(flow, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_AUTH_ADDRESS_FAILURE_LIMIT": 10}
    for i in range(10):  # many client ids from one address
        flow.token({"grant_type": "client_credentials", "client_id": f"spray-{i}", "client_secret": "x"})
    oauth_error(wrong(flow), 429, "invalid_client")
    assert flow.token({"grant_type": "client_credentials"}).status_code == 200
    oauth_error(wrong(flow, REMOTE_ADDR="10.0.0.9"), 401, "invalid_client")


def test_successful_requests_are_not_throttled(flow):
    for _ in range(15):
        assert flow.token({"grant_type": "client_credentials"}).status_code == 200


def test_throttle_can_be_configured(flow, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_AUTH_FAILURE_LIMIT": 2,
                             "CLIENT_AUTH_FAILURE_WINDOW": 300}
    for _ in range(2):
        assert wrong(flow).status_code == 401
    r = wrong(flow)
    assert r.status_code == 429 and r["Retry-After"] == "300"
    assert flow.token({"grant_type": "client_credentials"}).status_code == 200


def test_throttle_can_be_turned_off(flow, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_AUTH_FAILURE_LIMIT": 0}
    assert {wrong(flow).status_code for _ in range(15)} == {401}
    assert not TokenEvent.objects.filter(kind=TokenEvent.AUTH_FAILURES).exists()


def test_forwarded_for_is_ignored_without_num_proxies(flow, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CLIENT_AUTH_ADDRESS_FAILURE_LIMIT": 10}
    for i in range(10):
        flow.token({"grant_type": "client_credentials", "client_id": f"x{i}", "client_secret": "x"},
                   HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
    r = wrong(flow, HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert r.status_code == 429  # a spoofed header does not escape the address's budget
    assert set(TokenEvent.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_behind_a_proxy_the_forwarded_address_is_throttled_and_audited(flow, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "NUM_PROXIES": 1, "CLIENT_AUTH_ADDRESS_FAILURE_LIMIT": 10}
    for i in range(10):
        flow.token({"grant_type": "client_credentials", "client_id": f"x{i}", "client_secret": "x"},
                   HTTP_X_FORWARDED_FOR=f"10.9.9.{i}, 198.51.100.1")  # left entries are the client's choice
    assert set(TokenEvent.objects.values_list("ip_address", flat=True)) == {"198.51.100.1"}
    assert wrong(flow, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    assert wrong(flow, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 401
    r = flow.token({"grant_type": "client_credentials", "client_id": "y", "client_secret": "x"},
                   HTTP_X_FORWARDED_FOR="203.0.113.5, not-an-ip")
    assert r.status_code == 401 and TokenEvent.objects.filter(ip_address__isnull=True).count() == 1


def test_fewer_forwarded_hops_than_proxies_use_remote_addr(flow, settings):
    """NUM_PROXIES = 2 but one X-Forwarded-For entry: the request did not come through
    both proxies, so that entry is the sender's choice and must not be recorded or throttled."""
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "NUM_PROXIES": 2}
    assert flow.token({"grant_type": "client_credentials"}, REMOTE_ADDR="10.0.0.7",
                      HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 200
    assert flow.token({"grant_type": "client_credentials"}, REMOTE_ADDR="10.0.0.7",
                      HTTP_X_FORWARDED_FOR="198.51.100.4, 10.0.0.1").status_code == 200
    assert list(AccessToken.objects.order_by("created_at", "pk").values_list("ip_address", flat=True)) == [
        "10.0.0.7", "198.51.100.4"]
    # The address the throttle counts is the same one (client_ip feeds both).
    from django.test import RequestFactory

    from oauth_tokens.provider.views import client_ip

    request = RequestFactory().post("/oauth/token", REMOTE_ADDR="10.0.0.8", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert client_ip(request) == "10.0.0.8"


def test_body_over_djangos_own_upload_limit_is_json(flow, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    r = flow.http.post("/oauth/token", cc_form(flow) + "&pad=" + "a" * 200,
                       content_type="application/x-www-form-urlencoded")
    oauth_error(r, 413)


def test_unreadable_body_is_json(flow, monkeypatch):
    from django.core.handlers.wsgi import WSGIRequest
    from django.http import UnreadablePostError

    def broken(self):
        raise UnreadablePostError("client went away")

    monkeypatch.setattr(WSGIRequest, "body", property(broken))
    oauth_error(flow.http.post("/oauth/token", cc_form(flow), content_type="application/x-www-form-urlencoded"))
