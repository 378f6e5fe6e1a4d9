"""The example project as users deploy it: gunicorn with several workers.

``LiveServer`` creates (or empties) a database, migrates it, starts gunicorn
on a free loopback port with the example project's settings and waits until it
answers. The issuer is the server's own address, so metadata and ``iss`` match.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_database_name(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead (PostgreSQL / MySQL URLs)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def recreate_postgres_database(url: str) -> None:
    """Drop and create the database ``url`` names (connecting to ``postgres``)."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = with_database_name(url, "postgres").replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def rss_kib(pid: int) -> int | None:
    """Resident memory of ``pid`` in KiB (Linux /proc), None elsewhere or when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (gunicorn's workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces, so split after ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


class LiveServer:
    """gunicorn serving ``example_project`` on 127.0.0.1.

    ``env`` adds to the environment (DATABASE_URL, REDIS_URL, ...); the issuer is
    set to the server's URL. Use as a context manager; ``url`` is the base URL.
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        workers: int = 4,
        threads: int = 1,
        port: int | None = None,
        debug: bool = False,
        migrate: bool = True,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
        app: str = "example_project.wsgi:application",
        ready_path: str = "/.well-known/oauth-authorization-server",
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.threads = threads
        self.migrate = migrate
        self.log_path = log_path
        self.extra_args = tuple(extra_args)  # more gunicorn options
        self.app = app  # e.g. "reliability.pid_wsgi:application" (names the answering worker)
        self.ready_path = ready_path  # answers 200 once the server is up
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "OAUTH_TOKENS_ISSUER": self.url,
            "DEBUG": "True" if debug else "False",
            "PYTHONPATH": str(ROOT),
            # Production-like: real keys, not ones derived from SECRET_KEY (DEBUG off
            # makes the consumer's system check insist).
            "OAUTH_TOKENS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "OAUTH_TOKENS_DIGEST_KEY": secrets.token_urlsafe(32),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=self.env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)

    def start(self) -> LiveServer:
        if self.migrate:
            self.manage("migrate", "--noinput")
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        command = [
            sys.executable, "-m", "gunicorn", self.app,
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
            "--threads", str(self.threads), "--access-logfile", "-" if self.log_path else "/dev/null",
            "--graceful-timeout", "5", "--timeout", "60", *self.extra_args,
        ]
        self.process = subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    if len(self.worker_pids()) >= self.workers:
                        return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer within 60 s")

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def worker_memory(self) -> dict[int, int | None]:
        """Resident KiB of each worker."""
        return {pid: rss_kib(pid) for pid in self.worker_pids()}

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self.process = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
