"""``python -m bench``: every run (database x token-table size), then the targets.

SQLite always (a file in WAL mode, in a temporary directory on disk);
PostgreSQL too with ``--postgres`` or when ``DATABASE_URL`` points at a
PostgreSQL server. The benchmark always uses its own database name,
``oauth_tokens_bench``, on that server: it drops and recreates it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.report import targets_table

DB_NAME = "oauth_tokens_bench"
DEFAULT_POSTGRES = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
ROOT = Path(__file__).resolve().parent.parent


def postgres_url(explicit: str | None, name: str = DB_NAME) -> str | None:
    """Our own database ``name`` on the server that ``--postgres URL`` or ``DATABASE_URL`` names."""
    source = explicit or os.environ.get("DATABASE_URL", "")
    if not source.startswith(("postgres://", "postgresql://")):
        source = DEFAULT_POSTGRES if explicit is not None else ""
        if not source:
            return None
    return urlunsplit(urlsplit(source)._replace(path=f"/{name}"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", help="comma-separated token-table sizes (default 1000,1000000; --quick 1000)")
    parser.add_argument("--quick", action="store_true", help="short rounds, 1,000 tokens: about a minute")
    parser.add_argument("--smoke", action="store_true", help="one tiny iteration (the test suite runs this)")
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL",
                        help=f"also run on PostgreSQL (default server {DEFAULT_POSTGRES})")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--db-name", default=DB_NAME,
                        help=f"the PostgreSQL database to drop and recreate (default {DB_NAME})")
    parser.add_argument("--algorithm", choices=["RS256", "ES256", "EdDSA"], default="RS256",
                        help="signing algorithm of our access tokens (default RS256, the package's default)")
    parser.add_argument("--driver", choices=["wsgi", "client"], default="wsgi",
                        help="call the WSGI handler directly (default) or go through django.test.Client")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile summary of our requests and the token endpoint's phases")
    parser.add_argument("--sqlite-dir", help="directory for the SQLite file (default: a temporary directory)")
    parser.add_argument("--json", help="write every run's numbers to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    parser.add_argument("--markdown", metavar="JSON", help="print the results saved with --json as Markdown; no run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.markdown:
        from bench.markdown import markdown

        print(markdown(json.loads(Path(args.markdown).read_text())))
        return 0
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    default_sizes = {"smoke": "40", "quick": "1000", "full": "1000,1000000"}[mode]
    sizes = [int(s.replace("_", "")) for s in (args.tokens or default_sizes).split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="oauth-tokens-bench-", dir=args.sqlite_dir) as tmp:
        databases = [] if args.no_sqlite else [f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"]
        pg = postgres_url(args.postgres, args.db_name)
        if pg:
            databases.append(pg)
        if not databases:
            print("Nothing to run: --no-sqlite without PostgreSQL.", file=sys.stderr)
            return 2
        results = []
        for url in databases:
            for size in sizes:
                out = Path(tmp) / "run.json"
                command = [sys.executable, "-m", "bench.run", "--db-url", url, "--tokens", str(size),
                           "--mode", mode, "--driver", args.driver, "--json-out", str(out),
                           "--algorithm", args.algorithm]
                if args.profile:
                    command.append("--profile")
                subprocess.run(command, cwd=ROOT, check=True)
                results.append(json.loads(out.read_text()))
    table, all_met = targets_table(results)
    versions = results[0]["versions"]
    print(table)
    print("\nPython " + results[0]["python"] + "; " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 1 if args.strict and not all_met else 0


if __name__ == "__main__":
    sys.exit(main())
