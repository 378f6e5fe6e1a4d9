"""Outbound HTTP for URLs that clients name (a client's ``jwks_uri``, client ID
metadata documents): what a server may fetch on an untrusted client's say-so
without becoming its proxy into the private network (SSRF).

``fetch_json(url)`` returns the parsed JSON document at ``url`` or raises
``FetchError`` (``FetchRefused`` when policy forbids the URL); callers turn
that into their OAuth error. The rules (docs/security.md "Outbound fetches (SSRF)"):

- https only, no user:password in the URL. With ``FETCH_ALLOW_LOOPBACK`` (tests,
  development) loopback hosts are allowed, over http too; nothing else is.
- The host is resolved here, and every address it resolves to must be public:
  no private, loopback, link-local, shared (100.64/10), multicast, reserved or
  unspecified address, IPv4 or IPv6, nor an IPv4 one wrapped in IPv6
  (``::ffff:``, 6to4, Teredo, NAT64). Numbers written as a host in a
  non-standard form (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) are refused.
- The connection goes to the address that was vetted (no second resolution
  that a rebinding DNS server could answer differently): the URL is rewritten to
  that address, ``Host`` keeps the name, and TLS sends and verifies the name
  (httpx's ``sni_hostname`` request extension).
- No redirect is followed: a 3xx is an error. No proxy from the environment.
- ``FETCH_TIMEOUT`` bounds the connection, each read, and the body's download as
  a whole; the body is read in chunks and abandoned past ``FETCH_MAX_BYTES``.
- A JSON fetch needs ``application/json`` or a ``+json`` media type.
- Answers are cached in Django's default cache for their ``Cache-Control:
  max-age``, kept between ``FETCH_CACHE_MIN_AGE`` and ``FETCH_CACHE_MAX_AGE``
  (no header: the minimum); ``no-store`` / ``no-cache`` answers are not cached.
  The cache is best effort (``sharedcache``): down, every call fetches.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.core.cache import DEFAULT_CACHE_ALIAS

from oauth_tokens import sharedcache
from oauth_tokens.settings import token_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: A host made only of numbers (decimal, octal, hex): an address in a form that
#: resolvers read differently from ``ipaddress``; refused.
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
CACHE_PREFIX = "oauth_tokens:fetch:"
#: Fetched documents are cached in Django's default cache.
ALIAS = DEFAULT_CACHE_ALIAS


class FetchError(Exception):
    """A fetch failed: its message says why and may name the host, never the body."""


class FetchRefused(FetchError):
    """The URL or the address it resolves to is not one this server may fetch."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_allowed(address: IPAddress, *, loopback: bool = False) -> bool:
    """True for a public unicast address; loopback ones too when ``loopback``."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return address_allowed(inner, loopback=loopback)
        if address.is_site_local:
            return False
    if address.is_loopback:
        return loopback
    if address.is_unspecified or address.is_multicast or address.is_link_local or address.is_reserved:
        return False
    if address.is_private or address in _SHARED:
        return False
    return address.is_global


def _is_loopback(address: IPAddress) -> bool:
    inner = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    return (inner or address).is_loopback


def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` (tests replace this to play a hostile resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def vetted_address(url: str) -> tuple[str, IPAddress, int]:
    """(host, the address to connect to, port) for ``url``, or ``FetchRefused``."""
    loopback = bool(token_settings.FETCH_ALLOW_LOOPBACK)
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        raise FetchRefused("not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise FetchRefused("only https URLs are fetched")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise FetchRefused("URLs with credentials are not fetched")
    if parts.fragment:
        raise FetchRefused("URLs with a fragment are not fetched")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
        if _NUMERIC_HOST.fullmatch(host):
            raise FetchRefused(f"{host!r} is an address in a non-standard form") from None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            found = resolve(host, port)
        except (OSError, UnicodeError):
            raise FetchError(f"{host} does not resolve") from None
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        except ValueError:
            raise FetchRefused(f"{host} resolves to something that is not an address") from None
        if not addresses:
            raise FetchError(f"{host} does not resolve")
    refused = [a for a in addresses if not address_allowed(a, loopback=loopback)]
    if refused:
        raise FetchRefused(f"{host} resolves to a private, loopback or reserved address")
    if parts.scheme == "http" and not (loopback and all(_is_loopback(a) for a in addresses)):
        raise FetchRefused("only https URLs are fetched")
    return host, addresses[0], port


def _pinned(url: str, address: IPAddress) -> httpx.URL:
    return httpx.URL(url).copy_with(host=str(address))


def fetch(url: str, *, json_only: bool = True) -> tuple[bytes, httpx.Headers]:
    """The body and headers of a 200 answer to ``GET url``, fetched by the rules
    above; ``FetchError`` otherwise."""
    host, address, _port = vetted_address(url)
    timeout = float(token_settings.FETCH_TIMEOUT)
    limit = int(token_settings.FETCH_MAX_BYTES)
    deadline = time.monotonic() + timeout
    original = httpx.URL(url)
    netloc = original.netloc.decode("ascii")
    headers = {"Host": netloc, "Accept": "application/json" if json_only else "*/*", "User-Agent": "oauth_tokens"}
    # The TLS server name (and so the certificate check) is the name, in its IDNA form.
    extensions = {"sni_hostname": original.raw_host.decode("ascii")} if original.scheme == "https" else {}
    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False) as client, \
                client.stream("GET", _pinned(url, address), headers=headers, extensions=extensions) as response:
            if response.is_redirect or 300 <= response.status_code < 400:
                raise FetchError(f"{host} answered a redirect, which is not followed")
            if response.status_code != 200:
                raise FetchError(f"{host} answered HTTP {response.status_code}")
            if json_only and not _is_json(response.headers.get("content-type", "")):
                raise FetchError(f"{host} did not answer with a JSON content type")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError(f"{host} answered more than {limit} bytes")
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise FetchError(f"{host} answered more than {limit} bytes")
                if time.monotonic() > deadline:
                    raise FetchError(f"{host} did not answer within {timeout:g} s")
                chunks.append(chunk)
            answer_headers = response.headers
    except httpx.TimeoutException:
        raise FetchError(f"{host} did not answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{host} could not be fetched ({type(exc).__name__})") from None
    return b"".join(chunks), answer_headers


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def cache_lifetime(cache_control: str) -> int:
    """Seconds to keep an answer with this ``Cache-Control``: its max-age within
    the floor and the ceiling, the floor without one, 0 for no-store / no-cache."""
    directives = {}
    for part in cache_control.lower().split(","):
        name, _, value = part.strip().partition("=")
        directives[name.strip()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return 0
    floor, ceiling = int(token_settings.FETCH_CACHE_MIN_AGE), int(token_settings.FETCH_CACHE_MAX_AGE)
    max_age = directives.get("max-age", "")
    seconds = int(max_age) if max_age.isdigit() else floor
    return max(floor, min(ceiling, seconds))


def _cache_key(url: str) -> str:
    return CACHE_PREFIX + hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def fetch_json(url: str, *, refresh: bool = False) -> Any:
    """The JSON document at ``url``: from the cache while its answer is fresh
    (unless ``refresh``), else fetched (and cached as its headers allow)."""
    key = _cache_key(url)
    if not refresh:
        cached = sharedcache.call(ALIAS, lambda cache: cache.get(key), "fetch cache read")
        if cached:
            return cached["document"]
    body, headers = fetch(url)
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FetchError(f"{urlsplit(url).hostname} did not answer with valid JSON") from None
    lifetime = cache_lifetime(headers.get("cache-control", ""))
    if lifetime:
        sharedcache.call(ALIAS, lambda cache: cache.set(key, {"document": document}, lifetime),
                         "fetch cache write")
    return document


def forget(url: str) -> None:
    """Drop ``url``'s cached answer."""
    key = _cache_key(url)
    sharedcache.call(ALIAS, lambda cache: cache.delete(key), "fetch cache delete")
