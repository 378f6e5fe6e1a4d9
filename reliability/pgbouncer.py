"""PgBouncer in transaction mode in front of a PostgreSQL server, for a test.

``PgBouncer(upstream_url)`` writes a temporary configuration (every database of
the upstream server, ``auth_type = trust``, ``pool_mode = transaction``), starts
the system's ``pgbouncer`` (Debian's ``/usr/sbin/pgbouncer``) in the foreground
on a free loopback port and waits until it accepts connections; ``url(name)``
is the same URL through the pooler. As root it drops to ``nobody`` (PgBouncer
refuses to run as root). Use as a context manager; ``stop()`` ends the process.

Django through transaction pooling (docs/operations.md, "PgBouncer"): server-side cursors
off (``DISABLE_SERVER_SIDE_CURSORS``), and no prepared statements (Django's
psycopg 3 backend sets ``prepare_threshold`` to None unless told otherwise;
PgBouncer before 1.21 cannot carry them across server connections at all).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from reliability.server import free_port


def binary() -> str | None:
    """The pgbouncer executable, or None when it is not installed."""
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
    )


class PgBouncer:
    def __init__(self, upstream_url: str, *, pool_size: int = 20, max_client_conn: int = 500,
                 pool_mode: str = "transaction") -> None:
        parts = urlsplit(upstream_url)
        self.upstream = parts
        self.host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 5432
        self.port = free_port()
        self.pool_size = pool_size
        self.max_client_conn = max_client_conn
        self.pool_mode = pool_mode
        self.process: subprocess.Popen[bytes] | None = None
        self.dir: Path | None = None

    def url(self, database: str | None = None) -> str:
        """``upstream_url`` through the pooler (optionally naming another database)."""
        netloc = f"{self.upstream.username or 'postgres'}@127.0.0.1:{self.port}"
        path = "/" + database if database else self.upstream.path
        return urlunsplit(self.upstream._replace(netloc=netloc, path=path))

    def start(self) -> PgBouncer:
        executable = binary()
        if executable is None:
            raise RuntimeError("pgbouncer is not installed (Debian / Ubuntu: apt-get install pgbouncer)")
        self.dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        user = self.upstream.username or "postgres"
        (self.dir / "userlist.txt").write_text(f'"{user}" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={self.host} port={self.upstream_port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.dir / 'userlist.txt'}\n"
            f"pool_mode = {self.pool_mode}\ndefault_pool_size = {self.pool_size}\n"
            f"max_client_conn = {self.max_client_conn}\n"
            # psycopg sends no startup options Django needs kept; ignore the usual extras.
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
        )
        command = [executable, "-q", str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            shutil.chown(self.dir, "nobody")
            for entry in self.dir.iterdir():
                shutil.chown(entry, "nobody")
            command[1:1] = ["-u", "nobody"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"pgbouncer exited with {self.process.returncode}: {stderr}{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("pgbouncer did not listen within 15 s")

    def log(self) -> str:
        path = self.dir / "pgbouncer.log" if self.dir else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # SIGINT: safe shutdown, waits for transactions
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
