"""External providers from ``OAUTH_TOKENS["PROVIDERS"]``, with endpoint discovery
through RFC 8414 (``/.well-known/oauth-authorization-server``) or OpenID
Connect Discovery (``/.well-known/openid-configuration``): fetched once per
process and cached; explicit settings win over discovered values.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from oauth_tokens.settings import token_settings

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
    # Refresh this many seconds before expiry (seed 002: 5 minutes), capped at
    # half the token's lifetime.
    "refresh_leeway": 300,
    "metadata_url": "",
    # Expected issuer of the metadata; default: derived from metadata_url.
    "issuer": "",
    # Seconds per network operation with the provider; keep it short: the call
    # to refresh is made while other workers wait.
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
AUTH_METHODS = ("basic", "post", "none")
BODY_FORMATS = ("form", "json")
WELL_KNOWN = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")


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
    for key in ("refresh_leeway", "timeout", "retries", "backoff"):
        value = entry.get(key, OPTIONS[key])
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            problems.append(f"PROVIDERS[{name!r}][{key!r}] must be a number >= 0.")
    return problems


_cache: dict[str, Provider] = {}
_metadata: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def get_provider(name: str) -> Provider:
    """The configured provider ``name``, discovered endpoints included."""
    cached = _cache.get(name)
    if cached is not None:
        return cached
    entries = token_settings.PROVIDERS
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none configured"
        raise UnknownProvider(f'No provider {name!r} in OAUTH_TOKENS["PROVIDERS"] ({known}).')
    entry = entries[name]
    problems = validate(name, entry)
    if problems:
        raise ImproperlyConfigured(" ".join(problems))
    options = {**OPTIONS, **entry}
    provider = Provider(
        name=name,
        **{k: v for k, v in options.items() if k in Provider.__dataclass_fields__},
    )
    if provider.metadata_url:
        provider = _apply_metadata(provider, entry, discover(provider))
    with _lock:
        _cache[name] = provider
    return provider


def expected_issuer(metadata_url: str) -> str:
    """RFC 8414 section 3.1 (well-known inserted before the path) or OIDC
    Discovery section 4 (appended): the issuer a metadata URL was built from."""
    parts = urlsplit(metadata_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path
    for suffix in WELL_KNOWN:
        if path.startswith(suffix):
            return origin + path[len(suffix):]
        if path.endswith(suffix):
            return origin + path[: -len(suffix)]
    return ""


def discover(provider: Provider) -> dict[str, Any]:
    """The provider's metadata document, fetched once per process."""
    from oauth_tokens.consumer import remote
    from oauth_tokens.consumer.exceptions import ProviderError

    url = provider.metadata_url
    if url in _metadata:
        return _metadata[url]
    document = remote.fetch_json(provider, url)
    issuer = provider.issuer or expected_issuer(url)
    if issuer and str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        # RFC 8414 section 3.3: the issuer MUST be identical to the one the URL was built from.
        raise ProviderError(provider.name, "invalid_metadata", "the metadata issuer does not match its URL")
    if not document.get("token_endpoint"):
        raise ProviderError(provider.name, "invalid_metadata", "the metadata has no token_endpoint")
    with _lock:
        _metadata[url] = document
    return document


def _apply_metadata(provider: Provider, entry: dict[str, Any], document: dict[str, Any]) -> Provider:
    found = {
        "token_url": document.get("token_endpoint", ""),
        "authorize_url": document.get("authorization_endpoint", ""),
        "revoke_url": document.get("revocation_endpoint", ""),
    }
    changes = {k: v for k, v in found.items() if v and not entry.get(k)}
    methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if "auth_method" not in entry and "client_secret_basic" not in methods and "client_secret_post" in methods:
        changes["auth_method"] = "post"
    return replace(provider, **changes)


def reset() -> None:
    """Forget parsed providers and fetched metadata (settings changed)."""
    with _lock:
        _cache.clear()
        _metadata.clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "OAUTH_TOKENS":
        reset()


setting_changed.connect(_on_setting_changed)
