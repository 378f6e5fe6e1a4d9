"""Token-endpoint requests: the body (form or JSON) and client credentials.

RFC 6749 section 3.2: an empty parameter counts as omitted and no parameter may
appear more than once, except ``resource`` (RFC 8707 section 2) and ``audience``
(RFC 8693 section 2.1), in JSON a string or an array of strings, read with
``TokenRequest.getlist``. Section
2.3.1: client id and secret are form-urlencoded inside HTTP Basic before Base64.
RFC 7521 section 4.2: a client assertion (``client_assertion_type`` and
``client_assertion``) authenticates instead, and ``client_id`` may then be left
out (RFC 7523 section 3: the assertion's ``sub`` names the client). OAuth 2.1:
more than one client-auth method in one request is ``invalid_request``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus

from oauth_tokens.oauth2 import client_assertion
from oauth_tokens.oauth2.errors import InvalidClient, InvalidRequest

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_FIELDS = 64
#: Parameters that may be given more than once.
REPEATABLE = ("resource", "audience")

#: The values of the repeatable parameters, by name.
Lists = dict[str, tuple[str, ...]]

#: ``ClientCredentials.method`` of a request authenticating with a client assertion.
ASSERTION = "client_assertion"


def _clean(name: str, value: str) -> str:
    if "\x00" in name or "\x00" in value:
        raise InvalidRequest("Parameters must not contain NUL bytes")
    try:
        # JSON "\ud800" escapes decode to lone surrogates that no database accepts.
        name.encode("utf-8")
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest("Parameters must be valid UTF-8") from None
    return value


def parse_form(body: bytes) -> dict[str, str]:
    """Parse an ``application/x-www-form-urlencoded`` body strictly."""
    return parse_form_lists(body)[0]


def parse_form_lists(body: bytes) -> tuple[dict[str, str], Lists]:
    """``parse_form``, with the values of the repeatable parameters (each also in
    the first dict, by its first value)."""
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("The request body is not valid application/x-www-form-urlencoded") from None
    params: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for name, value in pairs:
        _clean(name, value)
        if name in REPEATABLE:
            if value != "":
                lists.setdefault(name, []).append(value)
            continue
        if name in params:
            raise InvalidRequest(f"Parameter {name!r} is repeated")
        params[name] = value
    params.update({name: values[0] for name, values in lists.items()})
    return {k: v for k, v in params.items() if v != ""}, {k: tuple(v) for k, v in lists.items()}


def parse_json(body: bytes) -> dict[str, str]:
    """Parse an ``application/json`` body: one object of string values."""
    return parse_json_lists(body)[0]


def parse_json_lists(body: bytes) -> tuple[dict[str, str], Lists]:
    """``parse_json``, with the values of the repeatable parameters, which may be
    arrays of strings."""
    try:
        data = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidRequest("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The JSON body must be an object")
    if len(data) > MAX_FIELDS:
        raise InvalidRequest("Too many parameters")
    params: dict[str, str] = {}
    lists: Lists = {}
    for name, value in data.items():
        if name in REPEATABLE and isinstance(value, list):
            if not all(isinstance(v, str) for v in value) or len(value) > MAX_FIELDS:
                raise InvalidRequest(f"Parameter {name!r} must be a string or an array of strings")
            values = tuple(_clean(name, v) for v in value if v != "")
            if values:
                lists[name], params[name] = values, values[0]
            continue
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise InvalidRequest(f"Parameter {name!r} must be a string")
        params[name] = _clean(name, str(value))
        if name in REPEATABLE:
            lists[name] = (params[name],)
    return params, lists


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate key {name!r}")
        result[name] = value
    return result


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_body(content_type: str | None, body: bytes) -> dict[str, str]:
    """Parameters of a POST body, form-encoded or JSON (the seeds send JSON)."""
    return parse_body_lists(content_type, body)[0]


def parse_body_lists(content_type: str | None, body: bytes) -> tuple[dict[str, str], Lists]:
    """``parse_body``, with the values of the repeatable parameters."""
    kind = media_type(content_type)
    if kind == FORM:
        return parse_form_lists(body)
    if kind == JSON:
        return parse_json_lists(body)
    if not body:
        return {}, {}
    raise InvalidRequest(f"Content-Type must be {FORM} or {JSON}")


def parse_basic(header: str) -> tuple[str, str] | None:
    """Decode ``Authorization: Basic ...`` into (client_id, client_secret).

    Returns None when the header is absent or another scheme; raises
    ``InvalidClient`` (401, ``WWW-Authenticate: Basic``) when it is malformed.
    """
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidClient("Malformed Basic credentials", used_basic=True) from None
    client_id, sep, secret = decoded.partition(":")
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    if not sep or not client_id or any(ord(c) < 0x20 or c == "\x7f" for c in client_id + secret):
        raise InvalidClient("Malformed Basic credentials", used_basic=True)
    return client_id, secret


@dataclass(frozen=True)
class ClientCredentials:
    """Who the client says it is, and how it said it (basic, post, an assertion or none)."""

    client_id: str | None
    secret: str | None
    method: str  # "client_secret_basic" | "client_secret_post" | "client_assertion" | "none"
    #: The ``client_assertion`` JWT (``method == "client_assertion"``): private_key_jwt
    #: or client_secret_jwt, whichever the client is registered for.
    assertion: str | None = None

    @property
    def used_basic(self) -> bool:
        return self.method == "client_secret_basic"


@dataclass(frozen=True)
class TokenRequest:
    """A parsed request to the token, revocation or introspection endpoint."""

    params: Mapping[str, str]
    credentials: ClientCredentials
    client_ip: str = ""
    subject_kind: str | None = None  # POST /oauth/token/<token_type>: "user" or "client"
    extra: Mapping[str, object] = field(default_factory=dict)
    #: Every value of each repeatable parameter (``REPEATABLE``) the request has.
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: The thumbprint of the key of the request's verified DPoP proof (RFC 9449);
    #: None without a proof. Set by the web layer once the proof is checked.
    dpop_jkt: str | None = None

    def get(self, name: str) -> str | None:
        return self.params.get(name)

    def getlist(self, name: str) -> tuple[str, ...]:
        """All values of a repeatable parameter (``resource``), in their order."""
        return self.lists.get(name, ())

    def require(self, name: str) -> str:
        value = self.params.get(name)
        if not value:
            raise InvalidRequest(f"Missing required parameter: {name}")
        return value

    @classmethod
    def build(
        cls,
        *,
        content_type: str | None,
        body: bytes,
        authorization: str = "",
        client_ip: str = "",
        subject_kind: str | None = None,
    ) -> TokenRequest:
        params, lists = parse_body_lists(content_type, body)
        basic = parse_basic(authorization) if authorization else None
        body_id, body_secret = params.get("client_id"), params.get("client_secret")
        assertion_type, assertion = params.get("client_assertion_type"), params.get("client_assertion")
        if assertion_type is not None or assertion is not None:
            if basic is not None or body_secret is not None:
                raise InvalidRequest("Use only one client authentication method")
            if assertion_type is None or assertion is None:
                raise InvalidRequest("client_assertion_type and client_assertion go together")
            if assertion_type != client_assertion.ASSERTION_TYPE:
                raise InvalidClient(f"Unsupported client_assertion_type; use {client_assertion.ASSERTION_TYPE}")
            claimed = body_id or client_assertion.unverified_subject(assertion)
            if claimed is None:
                raise InvalidClient("Invalid client assertion: not a JWT naming its client in sub")
            creds = ClientCredentials(claimed, None, ASSERTION, assertion)
        elif basic is not None:
            if body_secret is not None:
                raise InvalidRequest("Use only one client authentication method")
            if body_id is not None and body_id != basic[0]:
                raise InvalidRequest("client_id in the body does not match the Authorization header")
            creds = ClientCredentials(basic[0], basic[1], "client_secret_basic")
        elif body_secret is not None:
            creds = ClientCredentials(body_id, body_secret, "client_secret_post")
        else:
            creds = ClientCredentials(body_id, None, "none")
        return cls(params=params, credentials=creds, client_ip=client_ip, subject_kind=subject_kind, lists=lists)
