"""Hypothesis strategies for hostile raw HTTP requests, one endpoint at a time.

A case is data (``RawCase``): method, path, query pairs, headers, body and the
sizes of the huge parts. Credentials appear in it only as markers
(``⟦web_secret⟧``); ``render`` swaps in the real values, ``describe`` prints the
case with the markers, so no secret reaches the output.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

from reliability import rawhttp

MARKER = re.compile("⟦([a-z_0-9]+)⟧")


def m(name: str) -> str:
    return f"⟦{name}⟧"


@dataclass(frozen=True)
class Endpoint:
    label: str
    path: str  # may hold {param}, drawn from path_values
    kind: str  # "oauth" (JSON, no-store), "discovery" (JSON, public 200s), "resource", "browser"
    methods: tuple[str, ...]
    params: tuple[str, ...] = ()
    path_values: tuple[str, ...] = ()


ENDPOINTS = (
    Endpoint("token", "/oauth/token", "oauth", ("POST", "GET"),
             ("grant_type", "client_id", "client_secret", "scope", "code", "redirect_uri", "code_verifier",
              "refresh_token")),
    Endpoint("token/<type>", "/oauth/token/{}", "oauth", ("POST",),
             ("grant_type", "client_id", "client_secret", "scope", "code", "redirect_uri", "code_verifier",
              "refresh_token"), ("client", "user", "device", "%00", "x" * 300)),
    Endpoint("authorize", "/oauth/authorize", "browser", ("GET", "POST"),
             ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
              "code_challenge_method", "nonce", "csrfmiddlewaretoken", "allow", "deny")),
    Endpoint("revoke", "/oauth/revoke", "oauth", ("POST",), ("token", "token_type_hint", "client_id", "client_secret")),
    Endpoint("introspect", "/oauth/introspect", "oauth", ("POST",),
             ("token", "token_type_hint", "client_id", "client_secret")),
    Endpoint("userinfo", "/oauth/userinfo", "oauth", ("GET", "POST"), ("access_token", "scope")),
    Endpoint("metadata", "/.well-known/oauth-authorization-server", "discovery", ("GET",)),
    Endpoint("metadata/<path>", "/.well-known/oauth-authorization-server/{}", "discovery", ("GET",), (),
             ("tenant", "a/b", "%00", "..", "%2e%2e/x", "é", "x" * 2000)),
    Endpoint("openid-configuration", "/.well-known/openid-configuration", "discovery", ("GET",)),
    Endpoint("<path>/openid-configuration", "/{}/.well-known/openid-configuration", "discovery", ("GET",), (),
             ("tenant", "a/b", "%00", "é", "x" * 2000)),
    Endpoint("jwks", "/.well-known/jwks.json", "discovery", ("GET",)),
    Endpoint("connect", "/oauth/connect/{}/", "browser", ("GET", "POST"), ("next", "csrfmiddlewaretoken"),
             ("self", "self", "nope", "%00", "x" * 300)),
    Endpoint("connect/callback", "/oauth/connect/{}/callback/", "browser", ("GET",),
             ("code", "state", "error", "error_description"), ("self", "self", "nope")),
    Endpoint("connect/disconnect", "/oauth/connect/{}/disconnect/", "browser", ("POST",),
             ("next", "csrfmiddlewaretoken"), ("self", "self", "nope")),
    Endpoint("device_authorization", "/oauth/device_authorization", "oauth", ("POST",),
             ("client_id", "client_secret", "scope")),
    Endpoint("device", "/oauth/device", "browser", ("GET", "POST"),
             ("user_code", "csrfmiddlewaretoken", "allow", "deny")),
    Endpoint("register", "/oauth/register", "oauth", ("POST",),
             ("redirect_uris", "client_name", "token_endpoint_auth_method", "grant_types", "scope")),
    Endpoint("register/<client_id>", "/oauth/register/{}", "oauth", ("GET", "PUT", "DELETE"),
             ("client_id", "client_secret", "redirect_uris"), ("nope", "%00", "..", "x" * 300)),
    Endpoint("protected-resource", "/.well-known/oauth-protected-resource", "discovery", ("GET",)),
    Endpoint("protected-resource/<path>", "/.well-known/oauth-protected-resource/{}", "discovery", ("GET",), (),
             ("api", "a/b", "%00", "..", "x" * 2000)),
    Endpoint("api/me", "/api/me", "resource", ("GET",), ("access_token",)),
    Endpoint("par", "/oauth/par", "oauth", ("POST",),
             ("client_id", "client_secret", "response_type", "redirect_uri", "scope", "state", "code_challenge",
              "code_challenge_method", "nonce", "request_uri")),
    # No ``logout`` button among the parameters: a confirmed logout would end the session the other cases use.
    Endpoint("logout", "/oauth/logout", "browser", ("GET", "POST"),
             ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "csrfmiddlewaretoken")),
)

ODD_METHODS = ("GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "CONNECT", "get")


@dataclass
class RawCase:
    endpoint: Endpoint
    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    raw_query: bool = False  # values not percent-encoded
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None  # text; lone surrogates \udc80-\udcff stand for raw non-UTF-8 bytes
    framing: str = "length"  # "length", "chunked", "none"
    huge_body: int = 0  # bytes appended to a form body
    huge_header: int = 0
    url_padding: int = 0
    many_fields: int = 0
    logged_in: bool = False

    @property
    def head(self) -> bool:
        return self.method.strip().upper() == "HEAD"


def _bytes(text: str, secrets: Mapping[str, str]) -> bytes:
    text = text.replace("%E2%9F%A6", "⟦").replace("%E2%9F%A7", "⟧")  # markers in a percent-encoded body
    text = MARKER.sub(lambda found: secrets.get(found.group(1), found.group(0)), text)
    return text.encode("utf-8", "surrogateescape")


def render(case: RawCase, host: str, secrets: Mapping[str, str]) -> bytes:
    """The request's bytes, credentials filled in."""
    if case.raw_query:
        pairs = [_bytes(k, secrets) + b"=" + _bytes(v, secrets) for k, v in case.query]
    else:
        pairs = [quote_from_bytes(_bytes(k, secrets), safe="").encode() + b"="
                 + quote_from_bytes(_bytes(v, secrets), safe="").encode() for k, v in case.query]
    if case.many_fields:
        pairs += [b"f%d=1" % i for i in range(case.many_fields)]
    if case.url_padding:
        pairs.append(b"pad=" + b"x" * case.url_padding)
    target = _bytes(case.path, secrets) + (b"?" + b"&".join(pairs) if pairs else b"")
    headers = [(_bytes(k, secrets), _bytes(v, secrets)) for k, v in case.headers]
    if case.huge_header:
        headers.append((b"X-Padding", b"h" * case.huge_header))
    body = None if case.body is None else _bytes(case.body, secrets)
    if case.huge_body:
        body = (body or b"") + b"&pad=" + b"y" * case.huge_body
    return rawhttp.build(case.method.encode("latin-1"), target, host.encode(), headers, body,
                         chunked=case.framing == "chunked", content_length=case.framing != "none")


def _short(text: str, limit: int = 60) -> str:
    shown = repr(text[:limit])
    return shown + (f"...({len(text)} chars)" if len(text) > limit else "")


def describe(case: RawCase) -> str:
    """One line, markers instead of credentials, long parts shortened."""
    parts = [f"{case.method!r} {_short(case.path, 50)}"]
    if case.query:
        query = "&".join(f"{k}={v}" for k, v in case.query)
        parts.append("query " + ("raw " if case.raw_query else "") + _short(query))
    if case.many_fields:
        parts.append(f"+{case.many_fields} query fields")
    if case.url_padding:
        parts.append(f"+{case.url_padding} bytes of URL")
    if case.headers:
        parts.append("headers " + "; ".join(f"{k}: {_short(v, 40)}" for k, v in case.headers))
    if case.huge_header:
        parts.append(f"+{case.huge_header}-byte header")
    if case.body is not None:
        parts.append(f"body ({case.framing}) {_short(case.body)}")
    if case.huge_body:
        parts.append(f"+{case.huge_body / 1e6:.1f} MB of body")
    parts.append("logged in" if case.logged_in else "no session")
    return ", ".join(parts)


# --- values -------------------------------------------------------------------

NUL = "\x00"
NON_UTF8 = "\udcff\udcfe\udc80"  # bytes FF FE 80
HOSTILE = (
    "", " ", NUL, f"a{NUL}b", NON_UTF8, "%00", "%ff", "null", "[]", "{}", "true", "-1", "0", "1e309", "NaN",
    "é✓\u202e", "\r\nX-Injected: 1", "'\"", "<script>alert(1)</script>", "../../etc/passwd", "a" * 5000,
    "\ufeff", "\t", "+", "%", "&", "=", "a b", "\u0085",
)
PRINTABLE_HOSTILE = tuple(v for v in HOSTILE if all(" " <= c <= "~" or c > "\x9f" for c in v))
REDIRECTS = (
    m("redirect"), m("redirect") + "/../evil", m("redirect") + "?x=1", m("redirect") + "#frag",
    m("redirect") + "%00", m("redirect") + NUL, "https://evil.example/cb", "//evil.example/cb", "javascript:alert(1)",
    "data:text/html,x", "http://127.0.0.1:1/demo/callback", "HTTP://127.0.0.1/demo/callback",
    "http://evil@127.0.0.1/demo/callback", "http://127.0.0.1%2f@evil.example/", "\\\\evil.example", "urn:x",
    "custom.scheme:/cb", "http://[::1]/cb", "http://xn--80ak6aa92e.com/", "",
)
VERIFIERS = (m("verifier"), "a" * 42, "a" * 43, "a" * 128, "a" * 129, "+/=" * 15, "é" * 43, "", NUL * 43)
CHALLENGES = (m("challenge"), "a" * 42, "a" * 43, "a" * 128, "a" * 129, "+/=" * 15, m("verifier"), "", NUL * 43)
CHALLENGE_METHODS = ("S256", "plain", "s256", "S512", "", NUL, "S256 ")
GRANTS = ("client_credentials", "authorization_code", "refresh_token", "password", "implicit",
          "urn:ietf:params:oauth:grant-type:device_code", "CLIENT_CREDENTIALS", "client_credentials ")
CLIENT_IDS = (m("service_id"), m("web_id"), m("public_id"), m("web_id") + NUL, "unknown-client")
SECRETS = (m("service_secret"), m("web_secret"), m("web_secret") + "x", m("service_secret") + NUL, "wrong")
TOKENS = (m("at_service"), m("at_user"), m("rt_web"), m("at_user") + NUL, m("at_user")[:-3] + "xx⟧",
          "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "a.b.c", "a" * 3000)

SPECIFIC: dict[str, tuple[str, ...]] = {
    "grant_type": GRANTS,
    "client_id": CLIENT_IDS,
    "client_secret": SECRETS,
    "redirect_uri": REDIRECTS,
    "code_verifier": VERIFIERS,
    "code_challenge": CHALLENGES,
    "code_challenge_method": CHALLENGE_METHODS,
    "code": (m("code"), "unknown-code", m("code") + NUL),
    "refresh_token": (m("rt_web"), m("at_user"), "unknown"),
    "token": TOKENS,
    "access_token": TOKENS,
    "token_type_hint": ("access_token", "refresh_token", "id_token", "bogus"),
    "response_type": ("code", "token", "code id_token", "CODE", "none"),
    "scope": ("read", "read write", "openid profile email", "admin", "read read", "read\x00write", "openid"),
    "state": ("st", "a" * 4097, NUL),
    "nonce": ("n", "a" * 256),
    "csrfmiddlewaretoken": (m("csrf"), "wrong"),
    "allow": ("1", ""),
    "deny": ("1",),
    "next": ("/", "https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"),
    "error": ("access_denied", "server_error", "<b>x</b>", "a" * 100),
    "error_description": ("desc", NUL),
}


def values_for(name: str) -> st.SearchStrategy[str]:
    own = SPECIFIC.get(name, ())
    generic = st.sampled_from(HOSTILE) | st.text(max_size=30)
    if not own:
        return generic
    return st.one_of(st.sampled_from(own), st.sampled_from(own), generic)


def params_for(endpoint: Endpoint) -> st.SearchStrategy[list[tuple[str, str]]]:
    names = st.sampled_from(endpoint.params) if endpoint.params else st.nothing()
    known = names.flatmap(lambda n: st.tuples(st.just(n), values_for(n)))
    unknown = st.tuples(st.sampled_from(("x", "", "a[]", NUL, "client_id[]", "é")), st.sampled_from(HOSTILE))
    return st.lists(st.one_of(known, known, known, unknown), max_size=9)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


AUTHORIZATION = (
    m("basic_service"), m("basic_web"), m("basic_web_nul"), m("basic_web_wrong"), m("bearer_user"),
    m("bearer_service"), "Basic", "Basic ", "Basic !!!", "Basic " + _b64(b"nocolon"), "Basic " + _b64(b":"),
    "Basic " + _b64(b"\xff\xfe:\x80"), "Basic " + _b64(b"id:secret") + "=", "basic " + _b64(b"x:y"),
    "Basic  " + _b64(b"x:y"), "Basic " + _b64(b"x" * 10000 + b":y"), "Bearer", "Bearer ", "Bearer a b",
    "Bearer " + NUL, "Bearer " + m("at_user") + NUL, m("bearer_user") + ", Basic x", "Digest x", NON_UTF8,
    "Bearer " + "a" * 9000, "Bearer " + m("rt_web"), "Bearer\t" + m("at_user"),
)
CONTENT_TYPES = (
    "application/x-www-form-urlencoded", "application/json", "application/x-www-form-urlencoded; charset=latin-1",
    "application/json; charset=utf-16", "APPLICATION/JSON", "application/json, text/plain", "text/plain",
    "multipart/form-data", "multipart/form-data; boundary=BOUNDARY", "application/xml", "", NUL,
    "application/x-www-form-urlencoded\x00", "application/json;" + "a" * 3000, NON_UTF8,
)


def cookies(logged_in: bool) -> st.SearchStrategy[str | None]:
    """The Cookie header: a real session (or none), and NUL / garbage variants."""
    base = [f"sessionid={m('session')}; csrftoken={m('csrf')}"] if logged_in else [None]
    session = m("session") if logged_in else "abcdefgh12345678"
    hostile = [
        f'sessionid="{session}\\000"', 'sessionid="\\000\\000\\000\\000\\000\\000\\000\\000"',
        f'sessionid="abc\\000defghijk"; csrftoken={m("csrf")}', f'csrftoken="\\000"; sessionid={session}',
        f"sessionid={session}%00", f"sessionid={NON_UTF8}", f"sessionid={'s' * 5000}", "sessionid=;;;==",
        f"sessionid={session}; sessionid=other", f'sessionid="{session}\\377"',
        f"sessionid={session}{NUL}",  # a raw NUL: gunicorn refuses it before Django
    ]
    return st.one_of(st.sampled_from(base), st.sampled_from(base), st.sampled_from(hostile))


def json_values() -> st.SearchStrategy[object]:
    scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                       st.sampled_from(HOSTILE))
    return st.recursive(scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                             max_size=3), max_leaves=6)


@st.composite
def bodies(draw: st.DrawFn, params: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(Content-Type, body): form, JSON (also of the wrong types), multipart, junk."""
    kind = draw(st.sampled_from(("form", "form", "json", "json-typed", "json-raw", "multipart", "junk", "none")))
    form = "&".join(f"{quote_from_bytes(k.encode('utf-8', 'surrogateescape'), safe='')}="
                    f"{quote_from_bytes(v.encode('utf-8', 'surrogateescape'), safe='')}" for k, v in params)
    if kind == "form":
        raw = draw(st.booleans())
        text = "&".join(f"{k}={v}" for k, v in params) if raw else form
        return draw(st.sampled_from(CONTENT_TYPES[:3]) | st.sampled_from(CONTENT_TYPES)), text
    if kind == "json":
        return "application/json", json.dumps(dict(params), ensure_ascii=draw(st.booleans()))
    if kind == "json-typed":
        obj: dict[str, object] = {k: draw(json_values()) if draw(st.booleans()) else v for k, v in params}
        return "application/json", json.dumps(obj)
    if kind == "json-raw":
        return draw(st.sampled_from(("application/json", "application/json; charset=utf-8"))), draw(st.sampled_from((
            "[]", '"x"', "1", "null", "{", '{"a":}', '{"grant_type": "client_credentials", "grant_type": "x"}',
            "\ufeff{}", '{"a": "\\u0000"}', '{"a": "\\ud800"}', "[" * 5000 + "]" * 5000, '{"grant_type": 1e999}',
            NON_UTF8, "{}" + NUL)))
    if kind == "multipart":
        parts = "".join(f'--BOUNDARY\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in params)
        return "multipart/form-data; boundary=BOUNDARY", parts + "--BOUNDARY--\r\n"
    if kind == "junk":
        return draw(st.sampled_from(CONTENT_TYPES)), draw(st.text(max_size=50) | st.sampled_from(HOSTILE))
    return None, None


@st.composite
def raw_cases(draw: st.DrawFn, endpoint: Endpoint, logged_in: bool) -> RawCase:
    own = endpoint.methods
    method = draw(st.one_of(st.sampled_from(own), st.sampled_from(own), st.sampled_from(ODD_METHODS)))
    path = endpoint.path
    if "{}" in path:
        path = path.replace("{}", draw(st.sampled_from(endpoint.path_values)))
    case = RawCase(endpoint, method, path, logged_in=logged_in)
    params = draw(params_for(endpoint))
    if draw(st.booleans()) and params:  # a parameter twice, with two values
        name, _ = draw(st.sampled_from(params))
        params.append((name, draw(values_for(name))))
    upper = method.strip().upper()
    in_body = upper in ("POST", "PUT", "PATCH") and draw(st.integers(0, 3)) > 0
    if in_body:
        content_type, case.body = draw(bodies(params))
        if content_type is not None:
            case.headers.append(("Content-Type", content_type))
        if draw(st.integers(0, 3)) == 0:
            case.query = draw(params_for(endpoint))  # sensitive ones in the URL too
    else:
        case.query = params
        if draw(st.integers(0, 9)) == 0:  # a body on a GET
            content_type, case.body = draw(bodies(params))
            if content_type is not None:
                case.headers.append(("Content-Type", content_type))
    case.raw_query = draw(st.integers(0, 9)) == 0
    cookie = draw(cookies(logged_in))
    if cookie is not None:
        case.headers.append(("Cookie", cookie))
    if draw(st.integers(0, 2)) > 0:
        case.headers.append(("Authorization", draw(st.sampled_from(AUTHORIZATION))))
        if draw(st.integers(0, 9)) == 0:
            case.headers.append(("Authorization", draw(st.sampled_from(AUTHORIZATION))))
    if draw(st.integers(0, 9)) == 0:
        case.headers.append((draw(st.sampled_from(("X-Forwarded-For", "Accept", "Origin", "Referer", "Accept-Encoding",
                                                    "Content-Encoding", "Expect"))),
                             draw(st.sampled_from(PRINTABLE_HOSTILE + ("gzip", "100-continue", "*/*")))))
    if case.body is not None:
        case.framing = draw(st.sampled_from(("length", "length", "length", "chunked")))
    # The huge parts: rare, each alone, since each costs megabytes.
    huge = draw(st.integers(0, 24))
    if huge == 0:
        case.huge_body = 2_700_000
        if case.body is None:
            case.body = "a=1"
            case.headers.append(("Content-Type", draw(st.sampled_from(CONTENT_TYPES[:2]))))
    elif huge == 1:
        case.url_padding = 16_500
    elif huge == 2:
        case.huge_header = 20_000
    elif huge == 3:
        case.many_fields = 1_100
    return case
