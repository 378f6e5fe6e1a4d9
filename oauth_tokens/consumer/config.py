"""One external provider's settings (an ``OAUTH_TOKENS["PROVIDERS"]`` entry):
the options with their defaults, their validation, and the ``Provider`` value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    "metadata_url": "",
    # Expected issuer of the metadata; default: derived from metadata_url.
    "issuer": "",
    # Seconds (or a timedelta) per network operation with the provider; keep it
    # short: the call to refresh is made while other workers wait.
    "timeout": 5.0,
    # Extra attempts after a network error, timeout or 5xx, with backoff.
    "retries": 2,
    "backoff": 0.25,
    # Absolute callback URL registered at the provider; default: built from the request.
    "redirect_uri": "",
    # Extra query parameters for the authorization request (e.g. {"access_type": "offline"}).
    "authorize_params": {},
    # base_url of http_client(); default: none (pass absolute URLs).
    "api_base_url": "",
}
#: Options in seconds: a number or a ``datetime.timedelta``.
DURATIONS = ("refresh_leeway", "timeout", "backoff")
AUTH_METHODS = ("basic", "post", "none")
BODY_FORMATS = ("form", "json")


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
    metadata_url: str = ""
    issuer: str = ""
    timeout: float = 5.0
    retries: int = 2
    backoff: float = 0.25
    redirect_uri: str = ""
    authorize_params: dict[str, str] = field(default_factory=dict)
    api_base_url: str = ""

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
    retries = entry.get("retries", OPTIONS["retries"])
    if not isinstance(retries, int | float) or isinstance(retries, bool) or retries < 0:
        problems.append(f"PROVIDERS[{name!r}]['retries'] must be a number >= 0.")
    return problems


def options(entry: dict[str, Any]) -> dict[str, Any]:
    """A valid entry with its defaults, durations in seconds."""
    merged = {**OPTIONS, **entry}
    for key in DURATIONS:
        merged[key] = to_seconds(merged[key])
    return merged
