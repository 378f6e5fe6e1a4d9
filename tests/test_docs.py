"""The documentation (docs/, built by ``make docs``) against the code.

The reference page lists what the code defines: every provider setting with its
default, every option of a consumer provider entry with its default, every signal,
every management command and every OAuth error code. A setting, signal, command or
error added to the code without its line in docs/reference.md fails here.

The runnable snippets (tests/docs_snippets.py) are run by ``test_runnable_*`` below.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
from django.dispatch import Signal

from oauth_tokens import settings as provider_settings
from oauth_tokens import signals
from oauth_tokens.consumer import config as consumer_config
from tests.error_codes import oauth_error_codes

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference.md"


def section(text: str, heading: str) -> str:
    """The part of ``text`` under the ``## heading``, up to the next ``## ``."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/reference.md has no section '## {heading}'"
    return match.group(1)


def table_rows(text: str) -> dict[str, list[str]]:
    """First cell (its code span) -> the row's cells, for every table row in ``text``."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")] if line.startswith("| `") else []
        first = re.fullmatch(r"`([^`]+)`", cells[0]) if cells else None
        if first:
            rows[first.group(1)] = cells
    return rows


def documented_default(cell: str):
    """The Python literal in the first code span of a default cell."""
    span = re.match(r"`([^`]*)`", cell)
    assert span, f"no default in {cell!r}"
    return ast.literal_eval(span.group(1))


@pytest.fixture(scope="module")
def reference() -> str:
    return REFERENCE.read_text()


def test_every_provider_setting_is_in_the_reference_with_its_default(reference):
    rows = table_rows(section(reference, "Settings"))
    missing = sorted(set(provider_settings.DEFAULTS) - set(rows))
    assert missing == [], f"settings without a row in docs/reference.md: {missing}"
    wrong = {key: rows[key][2] for key, default in provider_settings.DEFAULTS.items()
             if documented_default(rows[key][2]) != default}
    assert wrong == {}, f"documented defaults that differ from oauth_tokens/settings.py: {wrong}"
    unknown = sorted(set(rows) - set(provider_settings.DEFAULTS))
    assert unknown == [], f"rows for settings that do not exist: {unknown}"


def test_every_consumer_provider_option_is_in_the_reference_with_its_default(reference):
    rows = table_rows(section(reference, "Consumer provider options"))
    missing = sorted(set(consumer_config.OPTIONS) - set(rows))
    assert missing == [], f"provider options without a row in docs/reference.md: {missing}"
    wrong = {key: rows[key][2] for key, default in consumer_config.OPTIONS.items()
             if documented_default(rows[key][2]) != default}
    assert wrong == {}, f"documented defaults that differ from oauth_tokens/consumer/config.py: {wrong}"


def test_every_signal_is_in_the_reference_with_its_arguments(reference):
    defined = {name for name, value in vars(signals).items() if isinstance(value, Signal)}
    assert "token_issued" in defined
    rows = table_rows(section(reference, "Signals"))
    assert sorted(defined - set(rows)) == []
    # Each keyword argument the module's ``#:`` note names for a signal is in its row.
    notes = re.findall(r"((?:^#:.*\n)+)(\w+) = Signal\(\)", (ROOT / "oauth_tokens" / "signals.py").read_text(), re.M)
    for note, name in notes:
        named = re.findall(r"``(\w+)``", note.split("kwargs", 1)[-1]) if "kwargs" in note else []
        kwargs = {k for k in named if k not in {"sender", "record", "revoke", "revoke_and_reauthorize",
                                                 "frequent_refresh", "failed_refresh", "new_location",
                                                 "impossible_travel", "grace_replayed", "anomaly",
                                                 "client_auth_failures"} and not k.startswith("anomaly")}
        row = " ".join(rows[name])
        assert {k for k in kwargs if f"`{k}`" not in row} == set(), f"{name}: arguments missing from its row"


def test_every_management_command_is_in_the_reference(reference):
    commands = {
        path.stem
        for path in (ROOT / "oauth_tokens").glob("*/management/commands/*.py")
        if not path.stem.startswith("_")
    }
    assert {"cleartokens", "createclient", "rotatekeys", "refresh_tokens"} <= commands
    text = section(reference, "Management commands")
    assert sorted(c for c in commands if f"manage.py {c}" not in text) == []


def test_every_oauth_error_code_is_in_the_reference(reference):
    codes = oauth_error_codes()
    assert {"invalid_grant", "invalid_dpop_proof"} <= codes
    rows = table_rows(section(reference, "Error codes"))
    assert sorted(codes - set(rows)) == []


def test_every_system_check_is_in_the_reference(reference):
    ids = set()
    for path in (ROOT / "oauth_tokens").rglob("*.py"):
        ids |= set(re.findall(r'id="(oauth_tokens(?:_consumer)?\.[EW]\d{3})"', path.read_text()))
    assert "oauth_tokens.E001" in ids
    rows = table_rows(section(reference, "System checks"))
    assert sorted(ids - set(rows)) == []


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    """What mkdocs --strict checks, without mkdocs: no orphan page, no missing page."""
    config = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r"^\s*-\s+(?:[^:\n]+:\s+)?([\w/.-]+\.md)\s*$", config, re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - listed == set(), "pages missing from the nav of mkdocs.yml"
    assert listed - pages == set(), "nav entries without a page"


def test_the_readme_links_only_to_docs_pages_that_exist():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\((docs/[^)#\s]+)", readme)
    assert targets, "the README links into the docs"
    assert [t for t in targets if not (ROOT / t).exists()] == []


# --- Runnable snippets -------------------------------------------------------------------
#
# A fenced block whose previous line is ``<!-- runnable -->`` (HTML comments render as
# nothing) is run here, from README.md and every page of docs/:
#
# - ``python``: executed in this process, in the test settings (the example project's apps
#   and URLs), with a live server of the example project. A block that defines
#   ``OAUTH_TOKENS`` must name only known settings, with valid values.
# - ``console`` (lines starting with ``$ ``, continued while a line ends with ``\`` or a quote
#   is open; the other lines are the expected output) and ``bash``: run by bash with
#   ``set -euo pipefail`` against that live server. Every command must succeed, and an
#   expected output that is a JSON object must match the actual answer's keys.
#
# Snippets name the demo's address, http://127.0.0.1:8000, which is replaced by the live
# server's, and the demo's clients through the environment: SERVICE_CLIENT_ID /
# SERVICE_CLIENT_SECRET (client_credentials, scopes read write), WEB_CLIENT_ID /
# WEB_CLIENT_SECRET (authorization_code + refresh_token), made here as setupdemo makes them.
#
# ``<!-- runnable: project settings.py -->`` and ``<!-- runnable: project urls.py -->``
# mark the blocks of "add it to your project": a project made by ``startproject`` gets the
# first appended to its settings.py and the second as its urls.py, is migrated, checked,
# and must then issue a client_credentials token that its own ``api/me`` view accepts.

DEMO = "http://127.0.0.1:8000"
MARKER = re.compile(r"^<!-- runnable(?:: (project [\w./]+))? -->\n```(\w+)\n(.*?)^```$",
                    re.M | re.S)


def snippet_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def snippets(kind: str) -> list:
    """pytest params (file:line ids) of the runnable blocks of ``kind``: python, shell, project."""
    found = []
    for path in snippet_files():
        text = path.read_text()
        project: dict[str, str] = {}  # a project's files, from its settings.py snippet on
        where = ""
        for match in MARKER.finditer(text):
            target, language, code = match.groups()
            if target:
                name = target.split()[1]
                if name == "settings.py":
                    if kind == "project" and project:
                        found.append(pytest.param(project, id=where))
                    project, where = {}, f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 2}"
                project[name] = code
                continue
            where_block = f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 2}"
            if kind == "python" and language == "python":
                found.append(pytest.param(code, id=where_block))
            elif kind == "shell" and language in ("console", "bash", "shell", "sh"):
                found.append(pytest.param((language, code), id=where_block))
        if kind == "project" and project:
            found.append(pytest.param(project, id=where))
    return found


def test_there_are_runnable_snippets_of_each_kind():
    assert len(snippets("python")) >= 3
    assert len(snippets("shell")) >= 3
    assert len(snippets("project")) >= 2  # the README's and the provider guide's


def console_commands(code: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs of a console block."""
    pairs: list[list[str]] = []
    open_command = False
    for line in code.splitlines():
        if open_command:
            pairs[-1][0] += "\n" + line
        elif line.startswith("$ "):
            pairs.append([line[2:], ""])
        else:
            if pairs and not line.startswith("#"):
                pairs[-1][1] += line + "\n"
            continue
        command = pairs[-1][0]
        open_command = command.endswith("\\") or command.count("'") % 2 == 1
    return [(command, expected.strip()) for command, expected in pairs]


@pytest.fixture
def demo_site(live_server, settings, monkeypatch):
    """The example project on a live server, with the demo's clients in the environment."""
    from oauth_tokens.provider.models import Client

    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": live_server.url}
    service = Client(name="Demo service", grant_types="client_credentials", scope="read write")
    service_secret = service.set_secret()
    service.save()
    web = Client(name="Demo web app", grant_types="authorization_code refresh_token",
                 redirect_uris=f"{live_server.url}/demo/callback", scope="read write openid profile email")
    web_secret = web.set_secret()
    web.save()
    for name, value in {"SERVICE_CLIENT_ID": service.client_id, "SERVICE_CLIENT_SECRET": service_secret,
                        "WEB_CLIENT_ID": web.client_id, "WEB_CLIENT_SECRET": web_secret}.items():
        monkeypatch.setenv(name, value)
    return live_server.url


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("code", snippets("python"))
def test_runnable_python_snippet(code, demo_site, capsys):
    namespace: dict = {"__name__": "docs_snippet"}
    exec(compile(code.replace(DEMO, demo_site), "<snippet>", "exec"), namespace)  # noqa: S102
    if "OAUTH_TOKENS" in namespace:
        given = namespace["OAUTH_TOKENS"]
        assert sorted(set(given) - set(provider_settings.DEFAULTS)) == []
        assert provider_settings.value_problems(given) == {}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("block", snippets("shell"))
def test_runnable_shell_snippet(block, demo_site):
    import json
    import os
    import subprocess

    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    language, code = block
    code = code.replace(DEMO, demo_site)
    pairs = console_commands(code) if language == "console" else [(code, "")]
    script = ["set -euo pipefail"]
    for index, (command, _) in enumerate(pairs):
        script += [f"printf '\\n@@@ {index} @@@\\n'", command]
    done = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    outputs = re.split(r"\n@@@ \d+ @@@\n", "\n" + done.stdout)[1:]
    assert len(outputs) == len(pairs)
    for (command, expected), actual in zip(pairs, outputs, strict=True):
        if expected.startswith("{"):
            try:
                shown = json.loads(expected)
            except json.JSONDecodeError:
                continue  # an abbreviated answer ("...") shows its keys only loosely
            got = json.loads(actual)
            assert set(got) == set(shown), f"{command}: answered {actual}"


@pytest.mark.parametrize("files", snippets("project"))
def test_runnable_project_snippets_make_a_project_that_issues_and_accepts_tokens(files, tmp_path):
    """``startproject``, the snippets (settings.py appended to the project's, urls.py,
    and any other file, such as the login template, at its path in the project),
    migrate, check; then a client_credentials token through the project's own token
    endpoint, accepted by its ``api/me`` view; with a login template, a signed-out
    user sent to the authorization endpoint gets a login page, not an error."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DATABASE_URL", None)

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, *args], cwd=tmp_path / "mysite", capture_output=True, text=True,
                              env={**env, "DJANGO_SETTINGS_MODULE": "mysite.settings"}, timeout=300)
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite"], cwd=tmp_path, check=True, env=env)
    package = tmp_path / "mysite" / "mysite"
    with (package / "settings.py").open("a") as settings_file:
        settings_file.write("\n" + files["settings.py"])
    (package / "urls.py").write_text(files["urls.py"])
    for name, code in files.items():
        if name not in ("settings.py", "urls.py"):
            (tmp_path / "mysite" / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "mysite" / name).write_text(code)
    run("manage.py", "migrate", "--noinput", "-v", "0")
    run("manage.py", "check", "--fail-level", "ERROR")
    login_page = "templates/registration/login.html" in files
    created = json.loads(run("manage.py", "createclient", "Worker", "--grant-types", "client_credentials",
                             "--scope", "read", "--json"))
    answer = json.loads(run("manage.py", "shell", "-v", "0", "-c", f"""
import base64, json
from django.test import Client
basic = base64.b64encode(b"{created['client_id']}:{created['client_secret']}").decode()
web = Client(HTTP_HOST="localhost")
token = web.post("/oauth/token", "grant_type=client_credentials&scope=read",
                 content_type="application/x-www-form-urlencoded", HTTP_AUTHORIZATION="Basic " + basic).json()
me = web.get("/api/me", HTTP_AUTHORIZATION="Bearer " + token["access_token"])
refused = web.get("/api/me", HTTP_AUTHORIZATION="Bearer " + token["access_token"] + "x")
login = web.get("/accounts/login/?next=/oauth/authorize") if {login_page!r} else None
print(json.dumps({{"status": me.status_code, "body": me.json(), "refused": refused.status_code,
                  "login": login and [login.status_code, 'name="password"' in login.content.decode()]}}))
"""))
    assert answer["status"] == 200 and answer["refused"] == 401
    if login_page:
        assert answer["login"] == [200, True]
    assert answer["body"]["client_id"] == created["client_id"]
