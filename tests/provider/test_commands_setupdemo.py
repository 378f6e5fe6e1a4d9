"""``manage.py setupdemo`` (``make demo``): the printed credentials and commands work."""

import re
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.test import override_settings

from oauth_tokens.provider.models import Client
from tests.conftest import VERIFIER, basic
from tests.provider.device import ENABLED, GRANT, enter

pytestmark = pytest.mark.django_db


def setupdemo() -> str:
    out = StringIO()
    call_command("setupdemo", stdout=out)
    return out.getvalue()


def printed(out: str, name: str) -> list[str]:
    return re.findall(rf"^\s*{name}=(\S+)$", out, re.MULTILINE)


def curl_body(out: str, grant_type: str) -> str:
    """The JSON that the printed ``curl ... -d '{...}'`` command sends."""
    return re.search(rf"-d '(\{{\s*\"grant_type\": \"{grant_type}\".*?\}})'\n", out, re.DOTALL).group(1)


def test_setupdemo_prints_working_credentials_for_every_grant(client):
    out = setupdemo()
    web_id, service_id = printed(out, "client_id")[:2]
    web_secret, service_secret = printed(out, "client_secret")[:2]

    # 1) client_credentials, as in the printed curl command.
    response = client.post("/oauth/token", "grant_type=client_credentials&scope=read",
                           content_type="application/x-www-form-urlencoded",
                           HTTP_AUTHORIZATION=basic(service_id, service_secret))
    assert response.status_code == 200, response.content
    access = response.json()["access_token"]
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200

    # 2) the printed browser URL, logged in as the demo user, then the printed JSON token request.
    url = next(line.strip() for line in out.splitlines() if "/oauth/authorize?" in line)
    assert "$" not in url  # pasted into a browser as is
    assert client.login(username="demo", password="demo-password")
    path = urlsplit(url)
    consent = client.get(f"{path.path}?{path.query}")
    assert consent.status_code == 200 and "Demo web app" in consent.content.decode()
    params = {k: v[0] for k, v in parse_qs(path.query).items()}
    decision = client.post("/oauth/authorize", {**params, "allow": "1"})
    assert decision.status_code == 303
    callback = urlsplit(decision["Location"])
    assert callback.path == "/demo/callback"
    page = client.get(f"{callback.path}?{callback.query}")
    code = re.search(r"<pre>([^<]+)</pre>", page.content.decode()).group(1)
    assert page["Cache-Control"] == "no-store" and page["Referrer-Policy"] == "no-referrer"
    body = curl_body(out, "authorization_code").replace("'$VERIFIER'", VERIFIER).replace('"CODE"', f'"{code}"')
    tokens = client.post("/oauth/token", body, content_type="application/json")
    assert tokens.status_code == 200, tokens.content
    refresh_token = tokens.json()["refresh_token"]

    # 3) refresh, with the printed JSON body.
    body = curl_body(out, "refresh_token").replace("REFRESH_TOKEN", refresh_token)
    refreshed = client.post("/oauth/token", body, content_type="application/json")
    assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != refresh_token
    assert web_id in url and web_secret


def test_setupdemo_can_run_again(client):
    first = printed(setupdemo(), "client_secret")[:2]
    second = printed(setupdemo(), "client_secret")[:2]
    assert set(first).isdisjoint(second)
    for name in ("Demo web app", "Demo service", "Demo device"):
        assert Client.objects.filter(name=name).count() == 1
    assert client.login(username="demo", password="demo-password")


def test_setupdemo_user_can_use_the_admin(client):
    setupdemo()
    client.login(username="demo", password="demo-password")
    assert client.get("/admin/oauth_tokens_provider/client/").status_code == 200


@override_settings(OAUTH_TOKENS=ENABLED)
def test_setupdemo_device_client_runs_the_printed_device_flow(client):
    out = setupdemo()
    device_id = printed(out, "client_id")[2]
    start_line = next(line for line in out.splitlines() if "/oauth/device_authorization" in line)
    assert f"client_id={device_id}" in start_line and "-d scope=read" in start_line
    started = client.post("/oauth/device_authorization", f"client_id={device_id}&scope=read",
                          content_type="application/x-www-form-urlencoded")
    assert started.status_code == 200, started.content
    codes = started.json()
    assert client.login(username="demo", password="demo-password")
    assert enter(client, codes["user_code"], allow="1").status_code == 200
    poll_line = re.search(r"-d grant_type=(\S+) -d device_code=DEVICE_CODE", out)
    assert poll_line and poll_line.group(1) == GRANT
    tokens = client.post("/oauth/token", f"client_id={device_id}&grant_type={GRANT}&device_code={codes['device_code']}",
                         content_type="application/x-www-form-urlencoded")
    assert tokens.status_code == 200, tokens.content
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access_token']}").status_code == 200


def test_setupdemo_prints_a_registration_that_works(client, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_ENABLED": True}
    out = setupdemo()
    body = re.search(r"/oauth/register -H 'Content-Type: application/json' -d '(\{.*?\})'\n", out, re.DOTALL)
    registered = client.post("/oauth/register", body.group(1), content_type="application/json")
    assert registered.status_code == 201, registered.content
    answer = registered.json()
    read = client.get(urlsplit(answer["registration_client_uri"]).path,
                      HTTP_AUTHORIZATION="Bearer " + answer["registration_access_token"])
    assert read.status_code == 200 and read.json()["client_name"] == "My CLI"
