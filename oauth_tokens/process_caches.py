"""Every per-process cache of the app in one registry, with one reset.

Several modules keep something derived from settings for the life of the
process: the parsed ``OAUTH_TOKENS`` dict, keys derived from ``SECRET_KEY``,
SQL written once per database, the chosen access-token verifier, the parsed
consumer providers. Each registers the function that forgets it, with the
settings it derives from::

    @process_caches.resets_on("OAUTH_TOKENS", "SECRET_KEY")
    def reset() -> None: ...

One ``setting_changed`` receiver (Django sends it when tests override
settings) calls the resets whose settings changed, in registration order (the
settings object first: it is registered on import); ``reset_all()`` forgets
everything (tests; after a key rotation). A module that is imported again
replaces its earlier registration instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.signals import setting_changed

Reset = Callable[[], None]

#: "module.qualname" -> (reset, the settings it depends on).
_registry: dict[str, tuple[Reset, frozenset[str]]] = {}


def resets_on(*settings: str) -> Callable[[Reset], Reset]:
    """Register the decorated function as a per-process cache's reset, called when
    one of ``settings`` changes (and by ``reset_all``)."""
    if not settings:
        raise ValueError("Name the settings the cache derives from")

    def register(reset: Reset) -> Reset:
        _registry[f"{reset.__module__}.{reset.__qualname__}"] = (reset, frozenset(settings))
        return reset

    return register


def reset_all() -> None:
    """Forget every per-process cache."""
    for reset, _settings in list(_registry.values()):
        reset()


def registered() -> list[str]:
    """The registered resets' names (for tests and debugging)."""
    return list(_registry)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    for reset, settings in list(_registry.values()):
        if setting in settings:
            reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="oauth_tokens.process_caches")
