"""What the consumer raises. Messages never contain a token or a secret."""

from __future__ import annotations


class ConsumerError(Exception):
    """Base class of every consumer error."""


class ReauthorizationRequired(ConsumerError):
    """The user must connect the provider again (seed 000 "Error Recovery").

    ``url`` restarts the connect flow (``/oauth/connect/<provider>/``), or is
    empty when the consumer urls are not mounted. ``reason`` is a short code:
    ``invalid_grant``, ``refresh_expired``, ``no_refresh_token``, ``revoked``,
    ``not_connected``.
    """

    def __init__(self, provider: str, *, url: str = "", reason: str = "invalid_grant") -> None:
        self.provider = provider
        self.url = url
        self.reason = reason
        hint = f" Send the user to {url}." if url else ""
        super().__init__(f"{provider}: the user must authorize again ({reason}).{hint}")


class NotConnected(ReauthorizationRequired):
    """No token is stored for this provider and user yet."""

    def __init__(self, provider: str, *, url: str = "", reason: str = "not_connected") -> None:
        super().__init__(provider, url=url, reason=reason)


class ProviderError(ConsumerError):
    """The provider answered with an OAuth error the consumer cannot recover
    from by itself (``invalid_client``, ``invalid_scope``, a malformed answer...).
    The stored tokens are untouched."""

    def __init__(self, provider: str, error: str, description: str = "", *, status: int | None = None) -> None:
        self.provider = provider
        self.error = error
        self.description = description
        self.status = status
        detail = f": {description}" if description else ""
        where = f" (HTTP {status})" if status else ""
        super().__init__(f"{provider}: {error}{where}{detail}")


class ProviderUnavailable(ConsumerError):
    """Network error, timeout or 5xx after the bounded retries, a sibling's
    refresh that did not finish in time, or a refresh held off after one whose
    answer was lost. The stored tokens are untouched. ``retry_after``: seconds
    until a refresh will be tried again, when known (the hold-off), else None."""

    def __init__(self, provider: str, detail: str, *, retry_after: float | None = None) -> None:
        self.provider = provider
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(f"{provider}: {detail}")


class TokenDecryptionError(ConsumerError):
    """A stored token cannot be decrypted with any of ``ENCRYPTION_KEYS``."""
