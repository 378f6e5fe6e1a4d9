"""External providers from ``OAUTH_TOKENS["PROVIDERS"]``, with endpoint discovery
through RFC 8414 (``/.well-known/oauth-authorization-server``) or OpenID
Connect Discovery (``/.well-known/openid-configuration``): fetched once per
process and cached; explicit settings win over discovered values.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from oauth_tokens.consumer import remote
from oauth_tokens.consumer.config import OPTIONS, Provider, UnknownProvider, options, validate
from oauth_tokens.settings import token_settings

__all__ = ["OPTIONS", "Provider", "UnknownProvider", "discover", "get_provider", "validate"]

WELL_KNOWN = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")


_cache: dict[str, Provider] = {}
_metadata: dict[str, dict[str, Any]] = {}
#: url -> (monotonic time of the failure, the error): a failed discovery is not retried
#: for ``RETRY_AFTER`` seconds, so every request does not wait out the retries again.
_failures: dict[str, tuple[float, Exception]] = {}
RETRY_AFTER = 30.0
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
    provider = Provider(
        name=name,
        **{k: v for k, v in options(entry).items() if k in Provider.__dataclass_fields__},
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
    from oauth_tokens.consumer.exceptions import ConsumerError

    url = provider.metadata_url
    if url in _metadata:
        return _metadata[url]
    failed = _failures.get(url)
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER:
        raise failed[1].with_traceback(None)
    try:
        document = _fetch(provider, url)
    except ConsumerError as exc:
        _failures[url] = (time.monotonic(), exc)
        raise
    _failures.pop(url, None)
    with _lock:
        _metadata[url] = document
    return document


def _fetch(provider: Provider, url: str) -> dict[str, Any]:
    from oauth_tokens.consumer.exceptions import ProviderError

    document = remote.fetch_json(provider, url)
    issuer = provider.issuer or expected_issuer(url)
    if issuer and str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        # RFC 8414 section 3.3: the issuer MUST be identical to the one the URL was built from.
        raise ProviderError(provider.name, "invalid_metadata", "the metadata issuer does not match its URL")
    if not document.get("token_endpoint"):
        raise ProviderError(provider.name, "invalid_metadata", "the metadata has no token_endpoint")
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
        _failures.clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "OAUTH_TOKENS":
        reset()


setting_changed.connect(_on_setting_changed)
