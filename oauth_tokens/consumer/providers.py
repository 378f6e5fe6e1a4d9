"""External providers from ``OAUTH_TOKENS["PROVIDERS"]``, with endpoint discovery
through RFC 8414 (``/.well-known/oauth-authorization-server``) or OpenID
Connect Discovery (``/.well-known/openid-configuration``): fetched once per
process and cached; explicit settings win over discovered values.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from oauth_tokens import process_caches
from oauth_tokens.consumer import provider_calls
from oauth_tokens.consumer.config import (
    OPTIONS,
    WELL_KNOWN,
    Provider,
    UnknownProvider,
    expected_issuer,
    options,
    origin,
    transport_problem,
    validate,
)
from oauth_tokens.settings import token_settings

__all__ = ["OPTIONS", "WELL_KNOWN", "Provider", "UnknownProvider", "discover", "expected_issuer", "get_provider",
           "validate"]
logger = logging.getLogger("oauth_tokens.consumer")
#: The endpoints taken from a metadata document, and the Provider field each fills.
ENDPOINTS = {"token_endpoint": "token_url", "authorization_endpoint": "authorize_url",
             "revocation_endpoint": "revoke_url"}

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
        provider = _apply_metadata(provider, entry, discover(provider, entry))
    with _lock:
        _cache[name] = provider
    return provider


def discover(provider: Provider, entry: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provider's metadata document, fetched once per process and checked:
    its ``issuer`` must be the expected one, and every endpoint the consumer will
    use (those not set explicitly in ``entry``) must be https (or allowed http) on
    the issuer's origin or one of ``endpoint_origins``. Otherwise ``ProviderError``
    (``invalid_metadata``), logged once per attempt, and retried after RETRY_AFTER."""
    from oauth_tokens.consumer.exceptions import ConsumerError, ProviderError

    url = provider.metadata_url
    if url in _metadata:
        return _metadata[url]
    failed = _failures.get(url)
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER:
        raise failed[1].with_traceback(None)
    try:
        document = _fetch(provider, url, entry or {})
    except ConsumerError as exc:
        _failures[url] = (time.monotonic(), exc)
        level = logging.ERROR if isinstance(exc, ProviderError) else logging.WARNING
        logger.log(level, "%s: endpoint discovery from %s failed, the provider cannot be used for %d s: %s",
                   provider.name, provider_calls.urlpath(url), RETRY_AFTER, exc)
        raise
    _failures.pop(url, None)
    with _lock:
        _metadata[url] = document
    return document


def _fetch(provider: Provider, url: str, entry: dict[str, Any]) -> dict[str, Any]:
    from oauth_tokens.consumer.exceptions import ProviderError

    def refuse(description: str) -> ProviderError:
        return ProviderError(provider.name, "invalid_metadata", description)

    document = provider_calls.fetch_json(provider, url)
    issuer = provider.issuer or expected_issuer(url)  # validate() refused a provider with neither
    # RFC 8414 section 3.3: the issuer MUST be identical to the one the URL was built from. (A
    # trailing "/" is tolerated: OpenID Connect Discovery removes it before appending the suffix.)
    if not isinstance(document.get("issuer"), str) or document["issuer"].rstrip("/") != issuer.rstrip("/"):
        raise refuse("the metadata issuer does not match its URL")
    if not document.get("token_endpoint") and not entry.get("token_url"):
        raise refuse("the metadata has no token_endpoint")
    algs = document.get("dpop_signing_alg_values_supported")
    if provider.dpop and algs is not None and (not isinstance(algs, list) or provider.dpop_algorithm not in algs):
        # RFC 9449 section 5.1: our proofs would all be refused.
        listed = " ".join(a for a in algs if isinstance(a, str))[:200] if isinstance(algs, list) else "?"
        raise refuse(f"its dpop_signing_alg_values_supported ({listed}) does not list the 'dpop_algorithm' "
                     f"{provider.dpop_algorithm}")
    allowed = {origin(issuer), *provider.endpoint_origins}
    for key, option in ENDPOINTS.items():
        value = document.get(key)
        if value is None or value == "" or entry.get(option):
            continue  # absent, or not used: the explicit setting wins
        if not isinstance(value, str):
            raise refuse(f"its {key} is not a URL")
        problem = transport_problem(value, provider.allow_http)
        if problem:
            raise refuse(f"its {key} {problem}")
        if origin(value) not in allowed:
            # A spoofed document must not make us send the client credentials (or the user) elsewhere.
            raise refuse(f"its {key} is on {origin(value)}, not on the issuer's origin {origin(issuer)} "
                         f"(list the origin in 'endpoint_origins' if it belongs to the provider)")
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


@process_caches.resets_on("OAUTH_TOKENS")
def reset() -> None:
    """Forget parsed providers and fetched metadata (settings changed)."""
    with _lock:
        _cache.clear()
        _metadata.clear()
        _failures.clear()
