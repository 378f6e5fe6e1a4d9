"""A small threaded TCP proxy whose behaviour can be switched while it runs.

Fault injection without touching the shared servers: put the proxy in front of
Redis (or a provider) and point the code under test at ``proxy.address``.

Modes:

- ``pass``: forward both ways.
- ``refuse``: the listening socket is closed, so a new connection is refused
  (``ECONNREFUSED``), and every open connection is reset. Like a stopped server.
- ``pause``: connections are accepted and held, nothing is forwarded either way
  (bytes wait in the proxy and the kernel). Like a server stopped with SIGSTOP:
  clients wait for their own timeouts. Back in ``pass`` the held bytes flow.
- ``slow``: every chunk is delayed by ``delay`` seconds before it is forwarded.

    with TcpProxy("127.0.0.1", 6379) as proxy:
        url = f"redis://{proxy.host}:{proxy.port}/14"
        proxy.set_mode("refuse")
        ...
        proxy.set_mode("pass")
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time

MODES = ("pass", "refuse", "pause", "slow")
_CHUNK = 65536
_TICK = 0.05  # how often an idle thread looks at the mode and the stop flag


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a dead server's kernel would answer."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """Listens on ``host:port`` (a free port unless given) and forwards to ``target``."""

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = port
        self.mode = "pass"
        self.delay = 0.0
        self.accepted = 0  # connections accepted, for reports
        self._cond = threading.Condition()
        self._listener: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._half_closed: dict[tuple[socket.socket, socket.socket], int] = {}
        self._threads: list[threading.Thread] = []
        self._stopped = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- control -------------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._listen()
        return self

    def set_mode(self, mode: str, *, delay: float = 0.0) -> None:
        """Switch to ``mode`` (``delay`` in seconds for ``slow``) at once."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._cond:
            previous, self.mode, self.delay = self.mode, mode, delay
            self._cond.notify_all()
            pairs = list(self._pairs) if mode == "refuse" else []
        if mode == "refuse" and previous != "refuse":
            self._close_listener()
            for client, upstream in pairs:
                self._drop(client, upstream)
            # A socket closed while another thread selects on it lives until that
            # select returns: wait, so that "refused" holds when this returns.
            self._join()
        elif mode != "refuse" and previous == "refuse":
            self._listen()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            pairs = list(self._pairs)
        self._close_listener()
        for client, upstream in pairs:
            self._drop(client, upstream)
        self._join()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------

    def _join(self) -> None:
        with self._cond:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._cond:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()  # under the lock: _join never sees a thread not yet started

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._spawn(self._accept_loop, listener)

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopped and self._listener is listener:
            try:
                ready, _, _ = select.select([listener], [], [], _TICK)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):  # closed under us (refuse / stop)
                return
            self.accepted += 1
            self._spawn(self._connect, client)

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        for sock in (client, upstream):
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._cond:
            if self.mode == "refuse" or self._stopped:
                self._drop(client, upstream)
                return
            self._pairs.add((client, upstream))
        self._spawn(self._pump, client, upstream, (client, upstream))
        self._spawn(self._pump, upstream, client, (client, upstream))

    def _drop(self, client: socket.socket, upstream: socket.socket) -> None:
        with self._cond:
            self._pairs.discard((client, upstream))
            self._half_closed.pop((client, upstream), None)
        _reset(client)
        _reset(upstream)

    def _wait_forwardable(self) -> float | None:
        """Block while paused; the delay to apply, or None when the pair must die."""
        with self._cond:
            while self.mode == "pause" and not self._stopped:
                self._cond.wait(_TICK)
            if self._stopped or self.mode == "refuse":
                return None
            return self.delay if self.mode == "slow" else 0.0

    def _pump(self, src: socket.socket, dst: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while pair in self._pairs:
                # Not reading while paused leaves the bytes where a stopped server leaves them.
                if self._wait_forwardable() is None:
                    break
                ready, _, _ = select.select([src], [], [], _TICK)
                if not ready:
                    continue
                data = src.recv(_CHUNK)
                delay = self._wait_forwardable()
                if delay is None:
                    break
                if delay:
                    time.sleep(delay)
                if not data:  # orderly close: pass it on; the second one closes the pair
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    with self._cond:
                        self._half_closed[pair] = self._half_closed.get(pair, 0) + 1
                        if self._half_closed[pair] < 2:
                            return
                    break
                dst.sendall(data)
        except (OSError, ValueError):
            pass
        self._drop(*pair)
