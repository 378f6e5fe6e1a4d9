"""One external provider's settings (an ``OAUTH_TOKENS["PROVIDERS"]`` entry):
the options with their defaults, their validation, and the ``Provider`` value."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from oauth_tokens.settings import to_seconds

#: Every key a provider entry may have, with its default.
OPTIONS: dict[str, Any] = {
    "token_url": "",
    "authorize_url": "",
    "revoke_url": "",
    "client_id": "",
    "client_secret": "",
    "scope": "",
    # Client authentication at the token endpoint (RFC 6749 section 2.3.1):
    # "basic" (HTTP Basic, the default), "post" (client_id/client_secret in the
    # body, as the seeds do) or "none" (public client: client_id only).
    "auth_method": "basic",
    # Token request body: "form" (RFC 6749) or "json" (seeds 000-002).
    "body_format": "form",
    # Refresh this many seconds (or a timedelta) before expiry (seed 002: 5
    # minutes), capped at half the token's lifetime.
    "refresh_leeway": 300,
    # Lifetime in seconds (or a timedelta) taken for an access token whose
    # response has no usable expires_in, when it can be renewed (a refresh token,
    # or client_credentials): it is then refreshed ahead of time like any other.
    # 0: never expires (only a 401 through http_client refreshes it).
    "assumed_lifetime": 3600,
    "metadata_url": "",
    # Expected issuer of the metadata; default: derived from metadata_url (needed
    # when metadata_url is not a /.well-known/ URL).
    "issuer": "",
    # Origins ("https://host[:port]") besides the issuer's that the discovered
    # endpoints may be on (Google: ["https://oauth2.googleapis.com"]). Any other
    # origin in the metadata is refused: it would receive the client credentials.
    "endpoint_origins": [],
    # Accept plain http for metadata_url and the discovered endpoints on hosts
    # other than loopback (a private test network; never over the internet).
    "allow_http": False,
    # Seconds (or a timedelta) per network operation with the provider; keep it
    # short: the call to refresh is made while other workers wait.
    "timeout": 5.0,
    # Extra attempts after a network error, timeout or 5xx, with backoff.
    "retries": 2,
    "backoff": 0.25,
    # Seconds (or a timedelta) during which no process presents the refresh token
    # again after a refresh whose answer was lost (a read timeout, a dropped
    # connection, a 500/502/504: the provider may have rotated it). Then it is
    # presented once: the one replay a rotating provider's grace window allows.
    # Longer than a blip, well inside the usual grace windows (10-60 s). 0: off.
    "refresh_hold_off": 5.0,
    # Absolute callback URL registered at the provider; default: built from the request.
    "redirect_uri": "",
    # Extra query parameters for the authorization request (e.g. {"access_type": "offline"}).
    "authorize_params": {},
    # base_url of http_client(); default: none (pass absolute URLs).
    "api_base_url": "",
    # DPoP (RFC 9449): sender-constrained tokens. Each grant gets a key pair of its
    # own (stored encrypted); the token, refresh and revocation requests and every
    # http_client() request carry a proof made with it.
    "dpop": False,
    # The algorithm of the grants' DPoP keys: one of DPOP_ALGORITHMS.
    "dpop_algorithm": "ES256",
}
#: Options in seconds: a number or a ``datetime.timedelta``.
DURATIONS = ("refresh_leeway", "assumed_lifetime", "timeout", "backoff", "refresh_hold_off")
AUTH_METHODS = ("basic", "post", "none")
BODY_FORMATS = ("form", "json")
#: What a grant's DPoP key may be (RFC 9449 section 4.2: an asymmetric algorithm).
DPOP_ALGORITHMS = ("ES256", "RS256", "EdDSA")


@dataclass(frozen=True)
class Provider:
    name: str
    token_url: str
    authorize_url: str = ""
    revoke_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    scope: str = ""
    auth_method: str = "basic"
    body_format: str = "form"
    refresh_leeway: float = 300.0
    assumed_lifetime: float = 3600.0
    metadata_url: str = ""
    issuer: str = ""
    endpoint_origins: tuple[str, ...] = ()
    allow_http: bool = False
    timeout: float = 5.0
    retries: int = 2
    backoff: float = 0.25
    refresh_hold_off: float = 5.0
    redirect_uri: str = ""
    authorize_params: dict[str, str] = field(default_factory=dict)
    api_base_url: str = ""
    dpop: bool = False
    dpop_algorithm: str = "ES256"

    @property
    def attempts(self) -> int:
        return 1 + max(0, int(self.retries))

    def call_budget(self) -> float:
        """Upper bound, in seconds, of one token request with its retries."""
        backoff = sum(self.backoff * 2**i for i in range(self.attempts - 1))
        # An attempt is a connect and a read, each bounded by ``timeout``.
        return self.attempts * 2 * self.timeout + backoff


class UnknownProvider(ImproperlyConfigured):
    pass


WELL_KNOWN = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")


def expected_issuer(metadata_url: str) -> str:
    """RFC 8414 section 3.1 (well-known inserted before the path) or OIDC
    Discovery section 4 (appended): the issuer a metadata URL was built from."""
    parts = urlsplit(metadata_url)
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path
    for suffix in WELL_KNOWN:
        if path.startswith(suffix):
            return base + path[len(suffix):]
        if path.endswith(suffix):
            return base + path[: -len(suffix)]
    return ""


def is_loopback(host: str | None) -> bool:
    """``localhost`` (and ``*.localhost``, RFC 6761) or a loopback address."""
    if not host:
        return False
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL (lower case, default port
    left out), or None when ``url`` is not one or carries credentials (``user@host``)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number, an unbalanced IPv6 bracket
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def transport_problem(url: str, allow_http: bool) -> str:
    """Why ``url`` may not carry credentials or metadata, or "": https only, plain
    http on a loopback host or with ``allow_http``."""
    if origin(url) is None:
        return "is not an absolute http(s) URL without credentials"
    parts = urlsplit(url)
    if parts.scheme.lower() == "http" and not allow_http and not is_loopback(parts.hostname):
        return "is not https (plain http is accepted on a loopback host, or with 'allow_http': True)"
    return ""


def validate(name: str, entry: Any) -> list[str]:
    """Problems with one PROVIDERS entry, as sentences (used by the system check)."""
    if not isinstance(entry, dict):
        return [f"PROVIDERS[{name!r}] must be a dict."]
    problems = []
    unknown = sorted(set(entry) - set(OPTIONS))
    if unknown:
        problems.append(f"PROVIDERS[{name!r}] has unknown key(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}.")
    if not entry.get("token_url") and not entry.get("metadata_url"):
        problems.append(f"PROVIDERS[{name!r}] needs a token_url or a metadata_url.")
    if not entry.get("client_id"):
        problems.append(f"PROVIDERS[{name!r}] needs a client_id.")
    if entry.get("auth_method", "basic") not in AUTH_METHODS:
        problems.append(f"PROVIDERS[{name!r}]['auth_method'] must be one of {', '.join(AUTH_METHODS)}.")
    if entry.get("body_format", "form") not in BODY_FORMATS:
        problems.append(f"PROVIDERS[{name!r}]['body_format'] must be one of {', '.join(BODY_FORMATS)}.")
    if entry.get("auth_method", "basic") != "none" and not entry.get("client_secret"):
        problems.append(f"PROVIDERS[{name!r}] needs a client_secret (or auth_method 'none' for a public client).")
    for key in DURATIONS:
        try:
            to_seconds(entry.get(key, OPTIONS[key]))
        except ValueError:
            problems.append(f"PROVIDERS[{name!r}][{key!r}] must be a number of seconds or a timedelta, >= 0.")
    problems += _discovery_problems(name, entry)
    problems += _dpop_problems(name, entry)
    retries = entry.get("retries", OPTIONS["retries"])
    if not isinstance(retries, int | float) or isinstance(retries, bool) or retries < 0:
        problems.append(f"PROVIDERS[{name!r}]['retries'] must be a number >= 0.")
    return problems


def _dpop_problems(name: str, entry: dict[str, Any]) -> list[str]:
    problems = []
    if not isinstance(entry.get("dpop", False), bool):
        problems.append(f"PROVIDERS[{name!r}]['dpop'] must be True or False.")
    if entry.get("dpop_algorithm", OPTIONS["dpop_algorithm"]) not in DPOP_ALGORITHMS:
        problems.append(f"PROVIDERS[{name!r}]['dpop_algorithm'] must be one of {', '.join(DPOP_ALGORITHMS)}.")
    return problems


def _is_origin(value: Any) -> bool:
    if not isinstance(value, str) or origin(value) is None:
        return False
    parts = urlsplit(value)
    return parts.path in ("", "/") and not parts.query and not parts.fragment


def _discovery_problems(name: str, entry: dict[str, Any]) -> list[str]:
    problems = []
    allow_http = entry.get("allow_http", False)
    if not isinstance(allow_http, bool):
        problems.append(f"PROVIDERS[{name!r}]['allow_http'] must be True or False.")
        allow_http = False
    origins = entry.get("endpoint_origins", [])
    if not isinstance(origins, list | tuple) or not all(_is_origin(value) for value in origins):
        problems.append(f"PROVIDERS[{name!r}]['endpoint_origins'] must be a list of origins such as "
                        "'https://oauth2.googleapis.com' (scheme, host and port only).")
    url = entry.get("metadata_url") or ""
    if url:
        problem = transport_problem(url, allow_http)
        if problem:
            problems.append(f"PROVIDERS[{name!r}]['metadata_url'] {problem}.")
        elif not entry.get("issuer") and not expected_issuer(url):
            problems.append(
                f"PROVIDERS[{name!r}] needs an 'issuer': its metadata_url is not a /.well-known/ URL, so the "
                "issuer the document must name (RFC 8414 section 3.3) cannot be derived from it."
            )
    issuer = entry.get("issuer") or ""
    if issuer and (not isinstance(issuer, str) or transport_problem(issuer, allow_http)):
        problems.append(f"PROVIDERS[{name!r}]['issuer'] must be an https URL (http on a loopback host, or with "
                        "'allow_http': True).")
    return problems


def options(entry: dict[str, Any]) -> dict[str, Any]:
    """A valid entry with its defaults, durations in seconds."""
    merged = {**OPTIONS, **entry}
    for key in DURATIONS:
        merged[key] = to_seconds(merged[key])
    merged["endpoint_origins"] = tuple(origin(value) for value in merged["endpoint_origins"])
    return merged
