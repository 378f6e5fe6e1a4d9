"""Consumer side: keep tokens obtained from other providers encrypted, fresh and
single-flight across every worker (DESIGN.md section 6).

Public API (imported lazily, so importing this package before the app registry
is ready never touches a model)::

    from oauth_tokens.consumer import get_access_token, http_client, revoke, ReauthorizationRequired

``refresh_access_token(provider, user, rejected=token)`` is for code that sees
a 401 itself (another SDK): it returns a newer token, refreshing once across
every worker.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "get_access_token": "oauth_tokens.consumer.service",
    "aget_access_token": "oauth_tokens.consumer.service",
    "refresh_access_token": "oauth_tokens.consumer.service",
    "arefresh_access_token": "oauth_tokens.consumer.service",
    "revoke": "oauth_tokens.consumer.service",
    "arevoke": "oauth_tokens.consumer.service",
    "store_tokens": "oauth_tokens.consumer.service",
    "http_client": "oauth_tokens.consumer.auth",
    "ahttp_client": "oauth_tokens.consumer.auth",
    "BearerAuth": "oauth_tokens.consumer.auth",
    "ConsumerError": "oauth_tokens.consumer.exceptions",
    "ReauthorizationRequired": "oauth_tokens.consumer.exceptions",
    "NotConnected": "oauth_tokens.consumer.exceptions",
    "ProviderError": "oauth_tokens.consumer.exceptions",
    "ProviderUnavailable": "oauth_tokens.consumer.exceptions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
