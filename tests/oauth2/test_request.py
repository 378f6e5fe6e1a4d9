"""Token request parsing (RFC 6749 sections 2.3.1 and 3.2, OAuth 2.1 section 2.4)."""

import base64
import json
from urllib.parse import quote_plus

import pytest

from oauth_tokens.oauth2.errors import InvalidClient, InvalidRequest
from oauth_tokens.oauth2.request import TokenRequest, parse_basic, parse_body

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def basic_raw(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 2.3.1: form-urlencode each part, then Base64."""
    return basic_raw(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode())


def build(body: bytes = b"grant_type=client_credentials", content_type: str | None = FORM, auth: str = ""):
    return TokenRequest.build(content_type=content_type, body=body, authorization=auth)


# -- bodies ---------------------------------------------------------------------
def test_form_body():
    assert parse_body(FORM, b"grant_type=refresh_token&refresh_token=a%2Bb+c") == {
        "grant_type": "refresh_token",
        "refresh_token": "a+b c",
    }


def test_json_body_as_the_seeds_send_it():
    body = json.dumps({"grant_type": "refresh_token", "refresh_token": "064be", "client_id": "x",
                       "client_secret": "y"}).encode()
    assert parse_body("application/json; charset=utf-8", body) == {
        "grant_type": "refresh_token", "refresh_token": "064be", "client_id": "x", "client_secret": "y",
    }


@pytest.mark.parametrize("content_type", [FORM, "Application/X-WWW-Form-Urlencoded; charset=UTF-8"])
def test_form_content_type_is_case_insensitive(content_type):
    assert parse_body(content_type, b"a=1") == {"a": "1"}


@pytest.mark.parametrize(
    "body", [b"grant_type=a&grant_type=a", b"scope=read&scope=", b"code=&code="]
)
def test_form_repeated_parameter_is_invalid_request(body):
    with pytest.raises(InvalidRequest, match="repeated"):
        parse_body(FORM, body)


def test_json_repeated_key_is_invalid_request():
    with pytest.raises(InvalidRequest):
        parse_body(JSON, b'{"grant_type": "a", "grant_type": "b"}')


@pytest.mark.parametrize("body", [b"code=a%00b", b"co%00de=x", b"grant_type=x&x=\x00"])
def test_form_nul_bytes_are_invalid_request(body):
    with pytest.raises(InvalidRequest):
        parse_body(FORM, body)


@pytest.mark.parametrize("body", [b'{"code": "a\\u0000b"}', b'{"co\\u0000de": "x"}'])
def test_json_nul_bytes_are_invalid_request(body):
    with pytest.raises(InvalidRequest, match="NUL"):
        parse_body(JSON, body)


def test_empty_values_count_as_omitted():
    assert parse_body(FORM, b"grant_type=client_credentials&scope=&client_secret=") == {
        "grant_type": "client_credentials"
    }
    assert parse_body(JSON, b'{"grant_type": "client_credentials", "scope": "", "client_secret": null}') == {
        "grant_type": "client_credentials"
    }
    request = build(b"grant_type=refresh_token&refresh_token=")
    with pytest.raises(InvalidRequest, match="refresh_token"):
        request.require("refresh_token")


@pytest.mark.parametrize(
    "body",
    [b"{", b"{'a': 1}", b'{"a": 1,}', b"\xff\xfe{}", b"", b'{"a": NaN}', b"[" * 100000 + b"]" * 100000],
)
def test_bad_json_is_invalid_request(body):
    with pytest.raises(InvalidRequest):
        parse_body(JSON, body)


@pytest.mark.parametrize("body", [b"[]", b'"grant_type"', b"42", b"null", b"true"])
def test_non_object_json_is_invalid_request(body):
    with pytest.raises(InvalidRequest, match="object"):
        parse_body(JSON, body)


@pytest.mark.parametrize(
    "value", ['{"x": 1}', "[1]", "true", "1.5"]
)
def test_json_values_must_be_strings(value):
    with pytest.raises(InvalidRequest, match="must be a string"):
        parse_body(JSON, b'{"scope": ' + value.encode() + b"}")


def test_json_lone_surrogate_is_invalid_request():
    # Not representable in UTF-8: a database driver would choke on it.
    with pytest.raises(InvalidRequest):
        parse_body(JSON, b'{"client_id": "\\ud800"}')


@pytest.mark.parametrize("body", [b"code=%ff", b"code=\xc3\xa9", b"code=%ed%a0%80"])
def test_form_bad_utf8_is_invalid_request(body):
    with pytest.raises(InvalidRequest):
        parse_body(FORM, body)


def test_too_many_parameters_is_invalid_request():
    with pytest.raises(InvalidRequest):
        parse_body(FORM, "&".join(f"p{i}=1" for i in range(500)).encode())
    with pytest.raises(InvalidRequest):
        parse_body(JSON, json.dumps({f"p{i}": "1" for i in range(500)}).encode())


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", "application/xml", None])
def test_wrong_content_type_is_invalid_request(content_type):
    with pytest.raises(InvalidRequest, match="Content-Type"):
        parse_body(content_type, b"grant_type=client_credentials")


# -- HTTP Basic (RFC 6749 2.3.1) --------------------------------------------------
@pytest.mark.parametrize(
    "client_id, secret",
    [("plain", "s3cret"), ("id:with:colons", "pa:ss"), ("a+b", "c+d e"), ("100%", "%41%"), ("émile", "ünï")],
)
def test_basic_round_trips_form_urlencoded_credentials(client_id, secret):
    assert parse_basic(basic(client_id, secret)) == (client_id, secret)


def test_basic_plus_means_space_and_percent_escapes_are_decoded():
    assert parse_basic(basic_raw(b"my+client:a%2Bb%3Ac+d")) == ("my client", "a+b:c d")


def test_basic_secret_may_contain_colons_unencoded():
    # Only the first colon separates id and secret.
    assert parse_basic(basic_raw(b"client:se:cr:et")) == ("client", "se:cr:et")


def test_basic_scheme_is_case_insensitive_and_other_schemes_are_ignored():
    raw = base64.b64encode(b"c:s").decode()
    assert parse_basic("bAsIc " + raw) == ("c", "s")
    assert parse_basic("Bearer abc") is None
    assert parse_basic("Digest c:s") is None


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!notbase64!!!",
        "Basic YWJj",  # "abc": no colon
        "Basic " + base64.b64encode(b":secret").decode(),  # empty client id
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),  # bad UTF-8
        "Basic " + base64.b64encode(b"cli\x00ent:secret").decode(),  # NUL
        "Basic " + base64.b64encode(b"client:se%00cret").decode(),  # NUL after percent-decoding
        "Basic " + base64.b64encode(b"client:sec\nret").decode(),  # control character
        "Basic YWJjOmQ",  # missing padding
        "Basic",
        "Basic ",
    ],
)
def test_malformed_basic_is_invalid_client_with_basic_challenge(header):
    with pytest.raises(InvalidClient) as exc_info:
        parse_basic(header)
    assert exc_info.value.status_code == 401
    assert exc_info.value.headers()["WWW-Authenticate"].startswith("Basic ")


# -- choosing the client authentication method ---------------------------------------
def test_basic_credentials():
    creds = build(auth=basic("c1", "s1")).credentials
    assert (creds.client_id, creds.secret, creds.method, creds.used_basic) == ("c1", "s1", "client_secret_basic", True)


def test_body_credentials_form_and_json():
    creds = build(b"grant_type=client_credentials&client_id=c1&client_secret=s1").credentials
    assert (creds.client_id, creds.secret, creds.method) == ("c1", "s1", "client_secret_post")
    creds = build(b'{"client_id": "c1", "client_secret": "s1"}', JSON).credentials
    assert (creds.client_id, creds.secret, creds.method, creds.used_basic) == ("c1", "s1", "client_secret_post", False)


def test_public_client_sends_only_its_id():
    creds = build(b"grant_type=refresh_token&client_id=pub").credentials
    assert (creds.client_id, creds.secret, creds.method) == ("pub", None, "none")


def test_basic_and_body_secret_together_is_invalid_request():
    with pytest.raises(InvalidRequest, match="one client authentication method"):
        build(b"grant_type=client_credentials&client_secret=s1", auth=basic("c1", "s1"))


def test_basic_and_a_different_body_client_id_is_invalid_request():
    with pytest.raises(InvalidRequest):
        build(b"grant_type=client_credentials&client_id=other", auth=basic("c1", "s1"))


def test_basic_with_the_same_body_client_id_is_fine():
    assert build(b"grant_type=client_credentials&client_id=c1", auth=basic("c1", "s1")).credentials.client_id == "c1"


def test_no_credentials_at_all():
    creds = build().credentials
    assert (creds.client_id, creds.secret, creds.method) == (None, None, "none")
