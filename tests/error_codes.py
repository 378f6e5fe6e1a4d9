"""Every OAuth error code the package can answer: the ``error`` of each
``OAuth2Error`` subclass in any of its modules (the documents that list the codes
are checked against it)."""

import pkgutil
from importlib import import_module

import oauth_tokens
from oauth_tokens.oauth2.errors import OAuth2Error


def oauth_error_codes() -> set[str]:
    for module in pkgutil.walk_packages(oauth_tokens.__path__, "oauth_tokens."):
        if ".migrations" not in module.name and not module.name.endswith(("checks", "apps")):
            import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return {cls.error for cls in subclasses(OAuth2Error) if cls.error}
