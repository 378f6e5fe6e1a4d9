"""``manage.py setupdemo`` (``make demo``): the printed export lines and commands
work as pasted into a shell (bash and curl against a live server), and running it
again keeps the client ids."""

import json
import re
import shutil
import subprocess
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.management import call_command

from oauth_tokens.provider.models import Client
from tests.conftest import basic
from tests.provider.device import ENABLED, GRANT, enter
from tests.provider.test_requests_oauthlib_interop import consent

pytestmark = pytest.mark.django_db(transaction=True)
FORM = "application/x-www-form-urlencoded"
needs_shell = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("curl")), reason="needs bash and curl")


def setupdemo() -> str:
    out = StringIO()
    call_command("setupdemo", stdout=out)
    return out.getvalue()


def exports(out: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(\S+)$", out, re.MULTILINE))


def helper(out: str) -> str:
    """The printed shell function the commands use."""
    return next(line for line in out.splitlines() if line.startswith("field() ")) + "\n"


def section(out: str, number: int) -> str:
    """The printed commands of step ``number``."""
    return re.search(rf"^# {number}\) .*?(?=^# {number + 1}\) |^\nConsumer|\Z)", out, re.MULTILINE | re.DOTALL).group(0)


def shell(script: str, env: dict[str, str]) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (script, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture
def site(live_server, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, **ENABLED, "ISSUER": live_server.url,
                             "REGISTRATION_ENABLED": True}
    return live_server.url


@needs_shell
def test_the_printed_commands_run_as_pasted(site, client):
    out = setupdemo()
    env = exports(out)
    assert set(env) == {"WEB_CLIENT_ID", "WEB_CLIENT_SECRET", "SERVICE_CLIENT_ID", "SERVICE_CLIENT_SECRET",
                        "DEVICE_CLIENT_ID"}
    assert "60 seconds" in out

    # 1) client_credentials, then the API with that token.
    me = json.loads(shell(helper(out) + section(out, 1), env))
    assert me["client_id"] == env["SERVICE_CLIENT_ID"]

    # 2) the commands up to the URL, a person consenting in a browser, then the rest.
    step2 = section(out, 2)
    before, after = step2.split("CODE=paste-the-code-here\n")
    printed = shell(helper(out) + before + 'echo "VERIFIER=$VERIFIER"\n', env).splitlines()
    url, verifier = printed[-2], printed[-1].removeprefix("VERIFIER=")
    assert url.startswith(f"{site}/oauth/authorize?") and env["WEB_CLIENT_ID"] in url
    assert client.login(username="demo", password="demo-password")
    browser = requests.Session()
    browser.cookies.set("sessionid", client.cookies["sessionid"].value)
    callback = urlsplit(consent(browser, url))
    page = browser.get(f"{site}{callback.path}?{callback.query}")
    code = re.search(r"<pre>([^<]+)</pre>", page.text).group(1)
    assert code == parse_qs(callback.query)["code"][0]
    # Steps 2 (rest), 3 and 4 run in one shell, as a person pasting them one after the other would.
    answer = shell(helper(out) + f"CODE={code}\nVERIFIER={verifier}\n" + after + section(out, 3) + section(out, 4), env)
    first, refreshed, me, validated, introspected = (json.loads(line) for line in answer.splitlines())
    assert first["refresh_token"] != refreshed["refresh_token"]  # rotated
    assert me["client_id"] == env["WEB_CLIENT_ID"] and validated["expires_in"] > 0
    assert introspected["active"] is True and introspected["client_id"] == env["WEB_CLIENT_ID"]

    # 6) registration, and reading it back with what it returned.
    registered = json.loads(shell(helper(out) + section(out, 6), env))
    assert registered["client_name"] == "My CLI"


@needs_shell
def test_the_printed_device_flow_runs_as_pasted(site, client):
    out = setupdemo()
    env = exports(out)
    start, poll = section(out, 5).split('echo "$DEVICE"\n')
    started = json.loads(shell(helper(out) + start + 'echo "$DEVICE"\n', env))
    assert client.login(username="demo", password="demo-password")
    assert enter(client, started["user_code"], allow="1").status_code == 200
    assert f"grant_type={GRANT}" in poll
    tokens = json.loads(shell(helper(out) + f"DEVICE='{json.dumps(started)}'\n" + poll, env))
    assert tokens["token_type"] == "Bearer" and tokens["access_token"]


def test_running_it_again_keeps_the_client_ids_and_gives_new_secrets(client):
    first = exports(setupdemo())
    again = setupdemo()
    second = exports(again)
    for prefix in ("WEB", "SERVICE", "DEVICE"):
        assert first[f"{prefix}_CLIENT_ID"] == second[f"{prefix}_CLIENT_ID"]
    assert first["WEB_CLIENT_SECRET"] != second["WEB_CLIENT_SECRET"]
    assert first["SERVICE_CLIENT_SECRET"] != second["SERVICE_CLIENT_SECRET"]
    assert "Kept the client ids" in again
    for name in ("Demo web app", "Demo service", "Demo device"):
        assert Client.objects.filter(name=name).count() == 1
    # Only the new secret works.
    token = client.post("/oauth/token", "grant_type=client_credentials", content_type=FORM,
                        HTTP_AUTHORIZATION=basic(second["SERVICE_CLIENT_ID"], second["SERVICE_CLIENT_SECRET"]))
    assert token.status_code == 200
    old = client.post("/oauth/token", "grant_type=client_credentials", content_type=FORM,
                      HTTP_AUTHORIZATION=basic(first["SERVICE_CLIENT_ID"], first["SERVICE_CLIENT_SECRET"]))
    assert old.status_code == 401


def test_setupdemo_user_can_use_the_admin(client):
    setupdemo()
    client.login(username="demo", password="demo-password")
    assert client.get("/admin/oauth_tokens_provider/client/").status_code == 200
