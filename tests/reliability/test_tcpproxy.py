"""The fault-injection proxy of the reliability suite, in front of a local echo server."""

import socket
import socketserver
import threading
import time

import pytest

from reliability.tcpproxy import TcpProxy


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo):
    with TcpProxy(*echo) as proxy:
        yield proxy


def connect(proxy, timeout=2.0):
    return socket.create_connection((proxy.host, proxy.port), timeout=timeout)


def roundtrip(sock, payload=b"ping"):
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_pass_forwards_both_ways(proxy):
    with connect(proxy) as sock:
        assert roundtrip(sock, b"hello") == b"hello"
        big = bytes(range(256)) * 4096  # 1 MiB, many chunks
        assert roundtrip(sock, big) == big


def test_refuse_refuses_new_connections_and_resets_open_ones(proxy):
    with connect(proxy) as open_before:
        assert roundtrip(open_before) == b"ping"
        proxy.set_mode("refuse")
        with pytest.raises(ConnectionRefusedError):
            connect(proxy)
        with pytest.raises((ConnectionResetError, BrokenPipeError, AssertionError)):
            assert roundtrip(open_before) == b"ping"  # reset, or closed: never answered


def test_pass_again_after_refuse_on_the_same_port(proxy):
    port = proxy.port
    proxy.set_mode("refuse")
    proxy.set_mode("pass")
    assert proxy.port == port
    with connect(proxy) as sock:
        assert roundtrip(sock) == b"ping"


def test_pause_accepts_but_forwards_nothing_until_resumed(proxy):
    with connect(proxy) as open_before:
        proxy.set_mode("pause")
        with connect(proxy, timeout=0.3) as new:  # accepted, like a stopped server's backlog
            new.sendall(b"held")
            with pytest.raises(TimeoutError):
                new.recv(16)
            open_before.settimeout(0.3)
            open_before.sendall(b"also")
            with pytest.raises(TimeoutError):
                open_before.recv(16)
            proxy.set_mode("pass")
            new.settimeout(2)
            open_before.settimeout(2)
            assert new.recv(16) == b"held"  # what waited is delivered
            assert open_before.recv(16) == b"also"


@pytest.mark.slow
def test_slow_delays_every_chunk(proxy):
    """A lower bound for "slow" (a busy machine only adds to it); for "pass" half of a
    slow round trip, against a few milliseconds normally."""
    proxy.set_mode("slow", delay=0.5)
    with connect(proxy) as sock:
        started = time.monotonic()
        assert roundtrip(sock) == b"ping"
        assert time.monotonic() - started >= 1.0  # delayed there and back
    proxy.set_mode("pass")
    with connect(proxy) as sock:
        started = time.monotonic()
        assert roundtrip(sock) == b"ping"
        assert time.monotonic() - started < 0.5  # not delayed any more


def test_unreachable_target_resets_the_client():
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead_port = spare.getsockname()[1]  # nothing listens there once closed
    with TcpProxy("127.0.0.1", dead_port) as proxy:
        # The reset may reach the client while it connects, sends or reads: no echo either way.
        with pytest.raises((ConnectionResetError, BrokenPipeError, AssertionError)):
            with connect(proxy) as sock:
                assert roundtrip(sock) == b"ping"


def test_unknown_mode_is_refused(proxy):
    with pytest.raises(ValueError):
        proxy.set_mode("explode")
