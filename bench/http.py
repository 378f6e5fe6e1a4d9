"""``python -m bench.http``: the token endpoint and a protected GET over HTTP, as deployed.

gunicorn serves the benchmark site (``bench.wsgi``: our provider, DOT and the
same DRF views as ``python -m bench``, with the example project's middleware)
with one worker per core; ``wrk`` drives it over loopback. Ours and tuned DOT
(``hash_client_secret=False``) run in the same server, in interleaved rounds:
per round every scenario runs for ``--seconds``, ours then DOT, and the
ratio is the median of the per-round ratios.

Scenarios (confidential clients, HTTP Basic, like ``python -m bench``):

- ``client_credentials``: the same form body again and again;
- ``refresh rotation``: each request presents a refresh token that an earlier
  response returned (a wrk Lua script parses every response body and queues
  the new token; every thread starts with its own chains), so every request
  rotates a live token, never a spent one;
- ``GET``: the same DRF view unauthenticated, with our bearer token, with
  DOT's bearer token (one token presented again and again: a client's steady
  state).

Every non-2xx answer, connect error or timeout is counted and printed; a run
with any is marked invalid.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from bench.__main__ import postgres_url

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "oauth_tokens_bench_http"
FORM = "application/x-www-form-urlencoded"

DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, '
    .. '"timeout": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""

FIXED = r"""
wrk.method = "%(method)s"
wrk.body = %(body)s
%(headers)s
"""

# Refresh rotation: a queue of live refresh tokens per wrk thread. Thread i takes
# the lines i, i + threads, ... of the token file; every 200 answer's new token
# goes to the back of the queue, every request takes one from the front.
ROTATION = r"""
local threads = %(threads)d
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local queue, head, tail = {}, 1, 0
function init(args)
  local n = 0
  for line in io.lines("%(tokens)s" .. os.getenv("BENCH_RUN") .. ".txt") do
    if n %% threads == id then
      tail = tail + 1
      queue[tail] = line
    end
    n = n + 1
  end
end
local headers = {["Content-Type"] = "%(form)s", ["Authorization"] = "%(authorization)s"}
function request()
  local token = "spent"
  if head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  end
  return wrk.format("POST", "%(path)s", headers, "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, hdrs, body)
  local token = body:match('"refresh_token"%%s*:%%s*"([^"]+)"')
  if token then
    tail = tail + 1
    queue[tail] = token
  end
end
"""


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII text is a valid Lua string literal


def fixed_script(method: str, body: str, headers: dict[str, str]) -> str:
    lines = "\n".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
    return FIXED % {"method": method, "body": lua_string(body) if body else "nil", "headers": lines} + DONE


@dataclass
class Result:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class Scenario:
    name: str
    rounds: list[Result] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.rounds)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.rounds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, script: Path, *, seconds: float, threads: int, connections: int, run: int) -> Result:
    """One wrk run; ``run`` picks the rotation scripts' token file (fresh chains per run)."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
               "-s", str(script), url]
    env = dict(os.environ, BENCH_RUN=str(run))
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    data = json.loads(line[len("WRKJSON "):])
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Result(data["requests"], data["duration_us"] / 1e6, errors, data["p50_us"] / 1e3, data["p99_us"] / 1e3)


class Server:
    """gunicorn serving bench.wsgi on a free loopback port."""

    def __init__(self, env: dict[str, str], *, workers: int, worker_class: str, threads: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "gunicorn", "bench.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads),
                   "--log-level", "warning", "--backlog", "2048"]
        self.log = log.open("w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/plain", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def prepare(db_url: str, tmp: Path, *, connections: int, spare: int, runs: int) -> dict[str, object]:
    """Migrate, create the clients and the tokens; return what the scripts need.

    A wrk run ends with its chains' last tokens in its Lua queues, so every run of a
    rotation scenario starts from fresh chains: ``runs`` files of them per side."""
    from bench.run import prepare_database

    prepare_database(db_url)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from bench import fixtures
    from bench.harness import Driver

    call_command("migrate", interactive=False, verbosity=0)
    clients = fixtures.create_clients()
    user = get_user_model().objects.create(username="bench-http", password="!")
    driver = Driver("wsgi")
    chains = connections + spare
    for run in range(runs):
        ours_refresh = [fixtures.our_code_exchange(driver, clients, user)["refresh_token"] for _ in range(chains)]
        dot_refresh = [fixtures.dot_tokens(clients, user, clients.tuned_code)[1] for _ in range(chains)]
        (tmp / f"ours_refresh{run}.txt").write_text("\n".join(ours_refresh) + "\n")
        (tmp / f"dot_refresh{run}.txt").write_text("\n".join(dot_refresh) + "\n")
    ours_access = fixtures.our_code_exchange(driver, clients, user)["access_token"]
    dot_access = fixtures.dot_tokens(clients, user, clients.tuned_code)[0]
    vendor = connection.vendor
    connection.close()
    return {"clients": clients, "ours_access": ours_access, "dot_access": dot_access, "vendor": vendor}


def scripts(tmp: Path, made: dict, threads: int) -> dict[str, tuple[str, Path]]:
    """Scenario name -> (path, wrk script)."""
    from bench.fixtures import basic, bearer

    clients = made["clients"]
    ours_auth = basic(clients.ours.client_id, clients.ours_secret)["HTTP_AUTHORIZATION"]
    dot_cc_auth = basic(clients.tuned_cc.client_id, clients.tuned_cc_secret)["HTTP_AUTHORIZATION"]
    dot_code_auth = basic(clients.tuned_code.client_id, clients.tuned_code_secret)["HTTP_AUTHORIZATION"]
    cc_body = "grant_type=client_credentials&scope=read"
    specs = {
        "ours client_credentials": ("/oauth/token", fixed_script("POST", cc_body, {
            "Content-Type": FORM, "Authorization": ours_auth})),
        "tuned DOT client_credentials": ("/o/token/", fixed_script("POST", cc_body, {
            "Content-Type": FORM, "Authorization": dot_cc_auth})),
        "ours refresh rotation": ("/oauth/token", ROTATION % {
            "threads": threads, "tokens": tmp / "ours_refresh", "form": FORM, "authorization": ours_auth,
            "path": "/oauth/token"} + DONE),
        "tuned DOT refresh rotation": ("/o/token/", ROTATION % {
            "threads": threads, "tokens": tmp / "dot_refresh", "form": FORM, "authorization": dot_code_auth,
            "path": "/o/token/"} + DONE),
        "GET unauthenticated": ("/api/plain", fixed_script("GET", "", {})),
        "GET ours": ("/api/ours", fixed_script("GET", "", {
            "Authorization": bearer(made["ours_access"])["HTTP_AUTHORIZATION"]})),
        "GET tuned DOT": ("/api/dot", fixed_script("GET", "", {
            "Authorization": bearer(made["dot_access"])["HTTP_AUTHORIZATION"]})),
    }
    out = {}
    for i, (name, (path, text)) in enumerate(specs.items()):
        script = tmp / f"scenario{i}.lua"
        script.write_text(text)
        out[name] = (path, script)
    return out


#: (ours, the contender it is paired with) per comparison printed.
PAIRS = [
    ("client_credentials", "ours client_credentials", "tuned DOT client_credentials"),
    ("refresh rotation", "ours refresh rotation", "tuned DOT refresh rotation"),
    ("GET, ours vs tuned DOT", "GET ours", "GET tuned DOT"),
    ("GET, ours vs unauthenticated", "GET ours", "GET unauthenticated"),
]


def run_database(db_url: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="oauth-tokens-http-") as name:
        tmp = Path(name)
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.settings", BENCH_DATABASE_URL=db_url,
                   BENCH_SIGNING_ALGORITHM=args.algorithm)
        if args.redis:
            env["BENCH_REDIS_URL"] = args.redis
        os.environ.update({k: v for k, v in env.items() if k.startswith(("BENCH_", "DJANGO_"))})
        made = prepare(db_url, tmp, connections=args.connections, spare=args.connections, runs=args.rounds + 1)
        backend = str(made["vendor"])
        print(f"\n[{backend}] gunicorn: {args.workers} {args.worker_class} workers"
              + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
              + f"; wrk -t{args.threads_wrk} -c{args.connections}; {args.rounds} rounds of {args.seconds:g} s "
              f"per scenario; our tokens signed {args.algorithm}", flush=True)
        print(f"  wrk -t{args.threads_wrk} -c{args.connections} -d{max(1, round(args.seconds))}s --timeout 10s "
              "-s <scenario>.lua http://127.0.0.1:<port><path>", flush=True)
        server = Server(env, workers=args.workers, worker_class=args.worker_class, threads=args.threads,
                        log=Path(args.log) if args.log else tmp / "gunicorn.log")
        try:
            plan = scripts(tmp, made, args.threads_wrk)
            results = {name: Scenario(name) for name in plan}
            for path, script in plan.values():  # warm-up: imports, keys, connections, caches
                wrk(server.url + path, script, seconds=1, threads=args.threads_wrk, connections=args.connections,
                    run=0)
            load = [os.getloadavg()[0]]
            for r in range(args.rounds):
                for name, (path, script) in plan.items():
                    results[name].rounds.append(wrk(server.url + path, script, seconds=args.seconds,
                                                    threads=args.threads_wrk, connections=args.connections,
                                                    run=r + 1))
                print(f"  round {r + 1}/{args.rounds}: "
                      + ", ".join(f"{n} {s.rounds[-1].rate:,.0f}" for n, s in results.items()), flush=True)
            load.append(os.getloadavg()[0])
        finally:
            server.stop()
    return {
        "backend": backend,
        "load": load,
        "scenarios": {name: [r.__dict__ for r in s.rounds] for name, s in results.items()},
    }


def ratio(run: dict, a: str, b: str) -> float:
    rounds = zip(run["scenarios"][a], run["scenarios"][b], strict=True)
    return statistics.median((x["requests"] / x["seconds"]) / (y["requests"] / y["seconds"]) for x, y in rounds)


def table(run: dict) -> str:
    lines = [f"\n== HTTP, {run['backend']} (load average {run['load'][0]:.1f} -> {run['load'][1]:.1f}) ==",
             f"{'scenario (medians of the rounds)':32} {'req/s':>8} {'best':>8} {'p50 ms':>7} {'p99 ms':>7} "
             f"{'errors':>6}"]
    for name, rounds in run["scenarios"].items():
        rates = [r["requests"] / r["seconds"] for r in rounds]
        lines.append(f"{name:32} {statistics.median(rates):8,.0f} {max(rates):8,.0f} "
                     f"{statistics.median(r['p50_ms'] for r in rounds):7.2f} "
                     f"{statistics.median(r['p99_ms'] for r in rounds):7.2f} {sum(r['errors'] for r in rounds):6}")
    lines.append("")
    for label, a, b in PAIRS:
        lines.append(f"{label + ' (paired rounds)':46} {ratio(run, a, b):6.2f}x")
    return "\n".join(lines)


def targets(runs: list[dict]) -> tuple[str, bool]:
    rows = []
    for run in runs:
        where = run["backend"]
        rates = [r["requests"] / r["seconds"] for r in run["scenarios"]["ours client_credentials"]]
        cc = statistics.median(rates)
        rows.append((f"[{where}] client_credentials >= 1,000 req/s over HTTP (median round; best {max(rates):,.0f})",
                     f"{cc:,.0f}", cc >= 1000))
        for grant in ("client_credentials", "refresh rotation"):
            x = ratio(run, f"ours {grant}", f"tuned DOT {grant}")
            rows.append((f"[{where}] {grant} >= 2x tuned DOT over HTTP", f"{x:.2f}x", x >= 2))
        x = ratio(run, "GET ours", "GET unauthenticated")
        rows.append((f"[{where}] protected GET >= 0.90x unauthenticated", f"{x:.2f}x", x >= 0.9))
        errors = sum(r["errors"] for rounds in run["scenarios"].values() for r in rounds)
        rows.append((f"[{where}] no error answers (non-2xx, socket errors, timeouts)", f"{errors}", errors == 0))
    width = max(len(r[0]) for r in rows)
    out = ["\n== Targets (HTTP) =="] + [f"{n:{width}}  {v:>8}  {'MET' if ok else 'NOT MET'}" for n, v, ok in rows]
    busiest = max(max(run["load"]) for run in runs)
    if busiest > (os.cpu_count() or 1) / 2:
        out.append(f"\nNote: load average reached {busiest:.1f} on {os.cpu_count()} CPUs: other processes took "
                   "CPU from the server and wrk; absolute rates are depressed, paired ratios less so.")
    return "\n".join(out), all(ok for _, _, ok in rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", nargs="?", const="", default="", metavar="URL",
                        help="PostgreSQL server (default 127.0.0.1, or DATABASE_URL's); always run")
    parser.add_argument("--sqlite", action="store_true", help="also on a SQLite file (WAL)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--db-name", default=DB_NAME, help=f"PostgreSQL database, dropped and recreated ({DB_NAME})")
    parser.add_argument("--redis", metavar="URL", help="use this Redis as Django's cache (default: local memory)")
    parser.add_argument("--workers", type=int, default=cores, help=f"gunicorn workers (default: one per core, {cores})")
    # gthread, not sync: gunicorn's sync worker serves one request per connection and then
    # lingers until the client has closed it (gunicorn 23+ close_graceful), so every request
    # pays a connect and a round trip with the worker idle; gthread keeps connections alive
    # (as a proxy with upstream keep-alive does) and its threads fill the waits on the
    # database (commit, round trips) with another request's CPU work. Measured here:
    # client_credentials sync 346 req/s, gthread x 2 450, gthread x 4 697 (same run).
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="gthread")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--threads-wrk", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--seconds", type=float, default=3.0, help="one round of one scenario (default 3)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--algorithm", choices=["RS256", "ES256", "EdDSA"], default="RS256")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s per scenario")
    parser.add_argument("--log", help="gunicorn's log file (default: a temporary file)")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 2.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    databases = []
    with tempfile.TemporaryDirectory(prefix="oauth-tokens-http-db-", dir=ROOT) as tmp:
        if args.sqlite or args.no_postgres:
            databases.append(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        if not args.no_postgres:
            databases.append(postgres_url(args.postgres, args.db_name))
        runs = []
        for url in databases:
            # One fresh process per database: Django is set up once per process.
            out = Path(tmp) / "run.json"
            command = [sys.executable, "-m", "bench.http", "--one", url, "--out", str(out), *(argv or sys.argv[1:])]
            subprocess.run(command, cwd=ROOT, check=True)
            runs.append(json.loads(out.read_text()))
    versions = ", ".join(f"{p} {version(p)}" for p in ("Django", "djangorestframework", "PyJWT", "gunicorn",
                                                       "django-oauth-toolkit", "psycopg"))
    for run in runs:
        print(table(run))
    text, met = targets(runs)
    print(text)
    print(f"\nPython {sys.version.split()[0]}; {versions}; {os.cpu_count()} CPUs")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    return 1 if args.strict and not met else 0


def one(argv: list[str]) -> int:
    """``--one URL --out FILE ...``: run one database in this process."""
    url, out = argv[argv.index("--one") + 1], argv[argv.index("--out") + 1]
    rest = [a for i, a in enumerate(argv) if a not in ("--one", "--out") and (i == 0 or argv[i - 1] not in
                                                                               ("--one", "--out"))]
    run = run_database(url, parse_args(rest))
    Path(out).write_text(json.dumps(run))
    return 0


if __name__ == "__main__":
    sys.exit(one(sys.argv[1:]) if "--one" in sys.argv else main())
