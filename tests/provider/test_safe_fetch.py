"""The outbound fetcher for URLs clients name (``provider.safe_fetch``): the SSRF
rules, the limits, no redirects, HTTP caching."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from oauth_tokens.provider import safe_fetch
from oauth_tokens.provider.safe_fetch import FetchError, FetchRefused


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.10", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "fec0::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "2001:db8::1",  # documentation
])
def test_hostile_addresses_are_not_allowed(address):
    assert not safe_fetch.address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert safe_fetch.address_allowed(ipaddress.ip_address(address))


def test_loopback_only_with_the_setting():
    assert safe_fetch.address_allowed(ipaddress.ip_address("127.0.0.1"), loopback=True)
    assert safe_fetch.address_allowed(ipaddress.ip_address("::1"), loopback=True)
    assert not safe_fetch.address_allowed(ipaddress.ip_address("10.0.0.1"), loopback=True)
    assert not safe_fetch.address_allowed(ipaddress.ip_address("169.254.169.254"), loopback=True)


@pytest.fixture
def resolver(monkeypatch):
    """A resolver answering from a dict (host -> addresses), never the network."""
    answers: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise socket.gaierror("no such host")
        return answers[host]

    monkeypatch.setattr(safe_fetch, "resolve", resolve)
    return answers


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/jwks", "https://10.1.2.3/jwks", "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/jwks", "https://[::ffff:127.0.0.1]/jwks", "https://[fe80::1]/jwks", "https://0.0.0.0/jwks",
    "https://2130706433/jwks", "https://0x7f000001/jwks", "https://0177.0.0.1/jwks", "https://0x7f.1/jwks",
    "https://127.1/jwks", "http://2130706433/",
])
def test_urls_naming_hostile_addresses_are_refused(url, resolver):
    with pytest.raises(FetchRefused):
        safe_fetch.vetted_address(url)


def test_a_name_resolving_to_a_private_address_is_refused(resolver):
    resolver["internal.example.test"] = ["10.0.0.7"]
    with pytest.raises(FetchRefused, match="private"):
        safe_fetch.vetted_address("https://internal.example.test/jwks")


def test_one_private_address_among_public_ones_is_enough_to_refuse(resolver):
    resolver["mixed.example.test"] = ["93.184.215.14", "127.0.0.1"]
    with pytest.raises(FetchRefused):
        safe_fetch.vetted_address("https://mixed.example.test/jwks")


def test_a_public_name_is_pinned_to_its_vetted_address(resolver):
    resolver["keys.example.test"] = ["93.184.215.14"]
    host, address, port = safe_fetch.vetted_address("https://keys.example.test:8443/jwks")
    assert (host, str(address), port) == ("keys.example.test", "93.184.215.14", 8443)


@pytest.mark.parametrize("url", ["http://keys.example.test/jwks", "ftp://keys.example.test/jwks",
                                 "file:///etc/passwd", "https://user:pw@keys.example.test/jwks",
                                 "https://keys.example.test/jwks#frag", "https:///jwks", "gopher://x/"])
def test_only_plain_https_urls(url, resolver):
    resolver["keys.example.test"] = ["93.184.215.14"]
    with pytest.raises(FetchRefused):
        safe_fetch.vetted_address(url)


def test_http_only_to_loopback_and_only_with_the_setting(resolver, settings):
    resolver["localhost"] = ["127.0.0.1"]
    resolver["keys.example.test"] = ["93.184.215.14"]
    with pytest.raises(FetchRefused):
        safe_fetch.vetted_address("http://localhost:8000/jwks")
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "FETCH_ALLOW_LOOPBACK": True}
    assert str(safe_fetch.vetted_address("http://localhost:8000/jwks")[1]) == "127.0.0.1"
    with pytest.raises(FetchRefused):
        safe_fetch.vetted_address("http://keys.example.test/jwks")
    with pytest.raises(FetchRefused):
        safe_fetch.vetted_address("https://10.0.0.1/jwks")


def test_a_name_that_does_not_resolve_is_a_fetch_error(resolver):
    with pytest.raises(FetchError, match="does not resolve"):
        safe_fetch.vetted_address("https://nowhere.example.test/jwks")


def test_the_connection_goes_to_the_vetted_address_with_the_name_in_host_and_sni(resolver, monkeypatch):
    """DNS rebinding: whatever the name resolves to later, the request goes to the
    address that was checked; Host and TLS server name stay the name."""
    resolver["keys.example.test"] = ["93.184.215.14"]
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(url=str(request.url), host=request.headers["host"], ext=request.extensions.get("sni_hostname"))
        return httpx.Response(200, json={"keys": []}, headers={"Cache-Control": "no-store"})

    real_client = httpx.Client
    monkeypatch.setattr(safe_fetch.httpx, "Client",
                        lambda **kw: real_client(transport=httpx.MockTransport(handler), **kw))
    assert safe_fetch.fetch_json("https://keys.example.test/jwks?x=1") == {"keys": []}
    assert seen == {"url": "https://93.184.215.14/jwks?x=1", "host": "keys.example.test",
                    "ext": "keys.example.test"}


# -- over real HTTP, on loopback with the development setting -------------------------------


class Server:
    """A local HTTP server whose answer each test sets."""

    def __init__(self) -> None:
        self.status, self.body, self.delay = 200, b"{}", 0.0
        self.headers: dict[str, str] = {"Content-Type": "application/json"}
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner.hits += 1
                self.send_response(owner.status)
                for name, value in owner.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for start in range(0, len(owner.body), 4096):
                    if owner.delay:
                        time.sleep(owner.delay)
                    try:
                        self.wfile.write(owner.body[start:start + 4096])
                    except OSError:
                        return

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/doc"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "FETCH_ALLOW_LOOPBACK": True}
    running = Server()
    yield running
    running.close()


def test_a_json_document_is_fetched(server):
    server.body = json.dumps({"keys": [1]}).encode()
    assert safe_fetch.fetch_json(server.url) == {"keys": [1]}


def test_the_loopback_server_is_refused_without_the_setting(server, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "FETCH_ALLOW_LOOPBACK": False}
    with pytest.raises(FetchRefused):
        safe_fetch.fetch_json(server.url)
    assert server.hits == 0


def test_a_body_over_the_limit_is_abandoned(server, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "FETCH_MAX_BYTES": 1000}
    server.body = b'{"pad": "' + b"x" * 50_000 + b'"}'
    with pytest.raises(FetchError, match="more than 1000 bytes"):
        safe_fetch.fetch_json(server.url)


def test_a_slow_server_is_abandoned_at_the_deadline(server, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "FETCH_TIMEOUT": 0.3}
    server.body = b'{"pad": "' + b"x" * 20_000 + b'"}'
    server.delay = 0.1
    started = time.monotonic()
    with pytest.raises(FetchError, match="did not answer within"):
        safe_fetch.fetch_json(server.url)
    assert time.monotonic() - started < 2


def test_redirects_are_not_followed(server):
    server.status, server.headers = 302, {"Location": "http://169.254.169.254/latest/meta-data/"}
    with pytest.raises(FetchError, match="redirect"):
        safe_fetch.fetch_json(server.url)
    assert server.hits == 1


@pytest.mark.parametrize(("status", "content_type", "body", "words"), [
    (404, "application/json", b"{}", "HTTP 404"),
    (200, "text/html", b"<html>", "JSON content type"),
    (200, "application/json", b"{not json", "valid JSON"),
])
def test_bad_answers_are_fetch_errors(server, status, content_type, body, words):
    server.status, server.headers, server.body = status, {"Content-Type": content_type}, body
    with pytest.raises(FetchError, match=words):
        safe_fetch.fetch_json(server.url)


def test_json_media_types_with_suffix_are_accepted(server):
    server.headers = {"Content-Type": "application/jwk-set+json; charset=utf-8"}
    assert safe_fetch.fetch_json(server.url) == {}


def test_answers_are_cached_for_their_max_age_and_refetched_on_demand(server):
    server.headers = {"Content-Type": "application/json", "Cache-Control": "public, max-age=600"}
    server.body = b'{"v": 1}'
    assert safe_fetch.fetch_json(server.url) == {"v": 1}
    server.body = b'{"v": 2}'
    assert safe_fetch.fetch_json(server.url) == {"v": 1}
    assert server.hits == 1
    assert safe_fetch.fetch_json(server.url, refresh=True) == {"v": 2}
    assert safe_fetch.fetch_json(server.url) == {"v": 2}
    assert server.hits == 2


def test_no_store_answers_are_not_cached(server):
    server.headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    safe_fetch.fetch_json(server.url)
    safe_fetch.fetch_json(server.url)
    assert server.hits == 2


def test_cache_lifetimes_have_a_floor_and_a_ceiling(settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "FETCH_CACHE_MIN_AGE": 60, "FETCH_CACHE_MAX_AGE": 3600}
    assert safe_fetch.cache_lifetime("max-age=0") == 60
    assert safe_fetch.cache_lifetime("max-age=600") == 600
    assert safe_fetch.cache_lifetime("max-age=99999999") == 3600
    assert safe_fetch.cache_lifetime("") == 60
    assert safe_fetch.cache_lifetime("max-age=junk") == 60
    assert safe_fetch.cache_lifetime("no-store") == 0
    assert safe_fetch.cache_lifetime("no-cache, max-age=600") == 0


def test_a_cache_that_is_down_only_costs_a_fetch(server, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    server.headers = {"Content-Type": "application/json", "Cache-Control": "max-age=600"}
    assert safe_fetch.fetch_json(server.url) == {}
    assert safe_fetch.fetch_json(server.url) == {}
    assert server.hits == 2


# -- over real TLS: the pinned address, the name in SNI and in the certificate check ----------


def _certificate(tmp_path, name: str):
    """A CA and a server certificate for ``name`` signed by it: (CA file, cert file, key file)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def build(subject, issuer, public_key, signing_key, *, ca: bool, san: str | None = None):
        # The extensions Python 3.13's strict verification (VERIFY_X509_STRICT) requires.
        now = datetime.datetime.now(datetime.UTC)
        usage = dict(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                     data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                     encipher_only=False, decipher_only=False)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(**usage), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                                  critical=False))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
            builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                                            critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = build(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    leaf = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), ca_name, leaf_key.public_key(), ca_key,
                 ca=False, san=name)
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return paths


@pytest.fixture
def tls_server(tmp_path, settings, resolver, monkeypatch):
    """An https server on 127.0.0.1 with a certificate for keys.example.test, which the
    fake resolver maps there; the fetcher trusts the test CA."""
    import ssl

    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "FETCH_ALLOW_LOOPBACK": True}
    ca_file, cert_file, key_file = _certificate(tmp_path, "keys.example.test")
    running = Server()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: names.append(name)
    running.httpd.socket = server_context.wrap_socket(running.httpd.socket, server_side=True)
    running.sni = names
    real_client = httpx.Client
    trusted = ssl.create_default_context(cafile=str(ca_file))
    monkeypatch.setattr(safe_fetch.httpx, "Client", lambda **kw: real_client(verify=trusted, **kw))
    running.port = running.httpd.server_address[1]
    yield running
    running.close()


def test_https_goes_to_the_vetted_address_with_the_name_in_sni_and_the_certificate(tls_server, resolver,
                                                                                    monkeypatch):
    calls: list[str] = []
    answers = {"keys.example.test": ["127.0.0.1"]}

    def rebinding(host: str, port: int) -> list[str]:
        # A rebinding resolver: the first answer passes the check, any later one points elsewhere.
        calls.append(host)
        return answers[host] if len(calls) == 1 else ["10.0.0.1"]

    monkeypatch.setattr(safe_fetch, "resolve", rebinding)
    tls_server.body = b'{"keys": []}'
    assert safe_fetch.fetch_json(f"https://keys.example.test:{tls_server.port}/doc") == {"keys": []}
    assert calls == ["keys.example.test"]  # resolved once: the connection used that answer
    assert tls_server.sni == ["keys.example.test"]


def test_a_certificate_for_another_name_is_refused(tls_server, resolver):
    resolver["other.example.test"] = ["127.0.0.1"]
    with pytest.raises(FetchError, match="could not be fetched"):
        safe_fetch.fetch_json(f"https://other.example.test:{tls_server.port}/doc")
    assert tls_server.hits == 0
