"""Resource indicators (RFC 8707): which resource servers a token is for.

Section 2: ``resource`` is an absolute URI (RFC 3986 section 4.3) without a
fragment, and may be given more than once. A value that is not one, or that
the client may not get tokens for, is ``invalid_target``. The access token's
``aud`` is the requested resources (RFC 9068 section 3: one string for one,
an array for several); without ``resource`` it is the server's default.

Section 2.2: a grant (an authorization code, a device code, a refresh token
family) keeps the resources it was authorized for; each token request may ask
for a subset of them (``narrow``), never for more.

Which resources a server issues for is policy: a list of identifiers, or by
default any https URI (http only on a loopback host, for development), and a
client may be limited to its own list (``allowed``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from oauth_tokens.oauth2.errors import InvalidTarget

#: RFC 3986 section 3.1.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
#: Characters no URI has (RFC 3986 section 2): controls, space, and these.
_NOT_IN_URI = re.compile(r'[\x00-\x20\x7f-\U0010ffff"<>\\^`{|}]')
#: At most this many resources per request, each at most this long.
MAX_RESOURCES = 10
MAX_LENGTH = 2048
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def problem(value: str) -> str | None:
    """Why ``value`` is not a resource indicator (section 2), or None when it is one."""
    if len(value) > MAX_LENGTH:
        return "is too long"
    if "#" in value:
        return "must not contain a fragment"
    scheme, colon, rest = value.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme) or not rest or _NOT_IN_URI.search(value):
        return "must be an absolute URI"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "must be an absolute URI"
    if rest.startswith("//") and not parts.hostname:
        return "must be an absolute URI"
    return None


def parse(values: Iterable[str]) -> tuple[str, ...]:
    """The requested resources, unique, in their given order; ``invalid_target`` for
    a value that is not an absolute URI without a fragment."""
    seen: dict[str, None] = {}
    for value in values:
        wrong = problem(value)
        if wrong is not None:
            raise InvalidTarget(f"resource {wrong}: {value}")
        seen[value] = None
    if len(seen) > MAX_RESOURCES:
        raise InvalidTarget(f"At most {MAX_RESOURCES} resources per request")
    return tuple(seen)


def acceptable_by_default(resource: str) -> bool:
    """What a server with no list of resources issues for: https URIs with a host,
    and http ones on a loopback host (a resource server in development)."""
    try:
        parts = urlsplit(resource)
        host = parts.hostname
    except ValueError:
        return False
    if not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)


def allowed(resource: str, *, server: Sequence[str], client: Sequence[str], default: str = "") -> bool:
    """May a client get tokens for ``resource``? ``server``: the resources the server
    issues for (empty: ``acceptable_by_default``); ``client``: the client's own list
    (empty: whatever the server allows). ``default``, the server's own default
    audience, is always one it issues for."""
    if client and resource not in client:
        return False
    if resource == default and default:
        return True
    return resource in server if server else acceptable_by_default(resource)


def requested(values: Iterable[str], allows: Callable[[str], bool]) -> tuple[str, ...]:
    """``parse(values)``, each of them one the client ``allows`` (else ``invalid_target``)."""
    wanted = parse(values)
    refused = [r for r in wanted if not allows(r)]
    if refused:
        raise InvalidTarget(f"resource not allowed for this client: {' '.join(refused)}")
    return wanted


def narrow(wanted: Sequence[str], granted: Sequence[str]) -> tuple[str, ...]:
    """The resources of one token from a grant for ``granted``: ``wanted`` when it is
    within the grant (section 2.2), all of the grant when nothing was asked."""
    if not wanted:
        return tuple(granted)
    extra = [r for r in wanted if r not in granted]
    if extra:
        raise InvalidTarget(f"resource not part of the grant: {' '.join(extra)}")
    return tuple(wanted)


def join(resources: Iterable[str]) -> str:
    """How a grant stores its resources: one per line (a URI has no whitespace)."""
    return "\n".join(resources)


def split(stored: str) -> tuple[str, ...]:
    return tuple(stored.split()) if stored else ()


def audience(resources: Sequence[str], default: str) -> str | list[str]:
    """The ``aud`` of an access token for ``resources``: the one resource, a list of
    several, or ``default`` when none was requested."""
    if not resources:
        return default
    return resources[0] if len(resources) == 1 else list(resources)
