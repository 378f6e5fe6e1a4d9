"""A minimal HTTP/1.1 client over a plain socket, for requests no HTTP library sends.

``requests`` and ``httpx`` refuse (rightly) NUL bytes and non-ASCII in header
values, duplicate or conflicting framing headers and request lines of odd
methods; the fuzzer needs exactly those. ``exchange`` writes the bytes as given
(one request, ``Connection: close``) while a reader collects the answer, so a
server that answers before reading a huge body is still heard.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The header's values joined with ", " (None when absent)."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


class NoResponse(Exception):
    """The connection closed (or timed out) before a complete status line and headers."""


def build(method: bytes, target: bytes, host: bytes, headers: list[tuple[bytes, bytes]], body: bytes | None,
          *, chunked: bool = False, content_length: bool = True) -> bytes:
    """The request's bytes. ``headers`` are sent as given (duplicates kept);
    Host and Connection: close come first, then Content-Length (or chunked)."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + host, b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if body is not None:
        if chunked:
            lines.append(b"Transfer-Encoding: chunked")
            body = (b"%x\r\n" % len(body) + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
        elif content_length:
            lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def exchange(host: str, port: int, request: bytes, *, timeout: float = 30.0, head: bool = False) -> RawResponse:
    """Send ``request`` and read the one response (raises ``NoResponse``)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def send() -> None:
            try:
                sock.sendall(request)
            except OSError:
                pass  # the server answered and closed before reading everything: read what it said

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        data = bytearray()
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                if _complete(data, head):
                    break
        except OSError:
            pass  # reset after the answer: parse what arrived
        sender.join(timeout=1)
    return parse(bytes(data), head=head)


def _split(data: bytes) -> tuple[bytes, bytes] | None:
    end = data.find(b"\r\n\r\n")
    return None if end < 0 else (data[:end], data[end + 4:])


def _skip_interim(data: bytes) -> bytes:
    while data.startswith(b"HTTP/1.1 1") or data.startswith(b"HTTP/1.0 1"):
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        data = data[end + 4:]
    return data


def _complete(data: bytearray, head: bool) -> bool:
    parts = _split(_skip_interim(bytes(data)))
    if parts is None:
        return False
    head_bytes, body = parts
    if head:
        return True
    for line in head_bytes.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return len(body) >= int(value.strip())
            except ValueError:
                return False
    return False  # chunked or until close


def parse(data: bytes, *, head: bool = False) -> RawResponse:
    parts = _split(_skip_interim(data))
    if parts is None:
        raise NoResponse(f"{len(data)} bytes without a complete response head")
    head_bytes, body = parts
    status_line, *header_lines = head_bytes.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        raise NoResponse(f"not an HTTP status line: {status_line[:80]!r}")
    headers = []
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    response = RawResponse(int(code), reason, headers, b"" if head else body)
    if not head:
        if (response.header("Transfer-Encoding") or "").lower() == "chunked":
            response.body = _dechunk(body)
        elif (length := response.header("Content-Length")) is not None and length.isdigit():
            response.body = body[: int(length)]
    return response


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        line, _, body = body.partition(b"\r\n")
        try:
            size = int(line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2:]
    return bytes(out)
