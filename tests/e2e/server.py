"""A Django process for the end-to-end tests.

    python -m tests.e2e.server serve [--settings tests.e2e.settings]
        serves real HTTP on an ephemeral port; prints {"url": ...} once ready
    python -m tests.e2e.server migrate
    python -m tests.e2e.server issue NAME...
        creates each user NAME and a client, runs the code flow, prints
        {NAME: {client credentials and a token pair}} as JSON
    python -m tests.e2e.server deactivate-user NAME | set-password NAME | deactivate-client CLIENT_ID
        changes what a user or an admin would change, from a process of its own
    python -m tests.e2e.server forge N
        N access tokens signed with the current signing key, as a thief of that key
        would make them: prints {"kid": ..., "tokens": [...]}
    python -m tests.e2e.server manage COMMAND ARGS...
        a management command (rotatekeys --remove KID), from a process of its own
"""

from __future__ import annotations

import base64
import json
import os
import sys
from socketserver import ThreadingMixIn
from urllib.parse import parse_qsl, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
REDIRECT = "http://127.0.0.1/cb"


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve() -> None:
    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=ThreadingServer,
                         handler_class=QuietHandler)
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_port}"}), flush=True)
    server.serve_forever()


def issue(name: str) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client as Browser

    from oauth_tokens.oauth2.pkce import s256
    from oauth_tokens.provider.models import Client

    user = get_user_model().objects.create_user(name, password="pw")
    client = Client(name=f"app of {name}", redirect_uris=REDIRECT, scope="read write introspection",
                    grant_types="authorization_code refresh_token client_credentials")
    secret = client.set_secret()
    client.save()
    browser = Browser()
    browser.force_login(user)
    answer = browser.post("/oauth/authorize", {
        "response_type": "code", "client_id": client.client_id, "redirect_uri": REDIRECT, "scope": "read",
        "state": "s", "code_challenge": s256(VERIFIER), "code_challenge_method": "S256", "allow": "1",
    })
    code = dict(parse_qsl(answer["Location"].split("?", 1)[1]))["code"]
    basic = base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    tokens = browser.post("/oauth/token", urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER,
    }), content_type="application/x-www-form-urlencoded", HTTP_AUTHORIZATION=f"Basic {basic}").json()
    return {"client_id": client.client_id, "client_secret": secret, **tokens}


def change(command: str, name: str) -> None:
    from django.contrib.auth import get_user_model

    from oauth_tokens.provider.models import Client

    if command == "deactivate-client":
        client = Client.objects.get(client_id=name)
        client.is_active = False
        client.save()
        return
    user = get_user_model().objects.get(username=name)
    if command == "deactivate-user":
        user.is_active = False
    else:
        user.set_password("a brand new password")
    user.save()


def forge(count: int) -> dict:
    import time
    import uuid

    from oauth_tokens.oauth2 import jwt as oauth_jwt
    from oauth_tokens.provider import keys
    from oauth_tokens.settings import token_settings

    kid, algorithm, private = keys.current_key()
    now = int(time.time())
    claims = {"iss": token_settings.issuer, "aud": token_settings.audience, "sub": "thief", "client_id": "thief",
              "scope": "read", "iat": now, "exp": now + 3000}
    tokens = [oauth_jwt.sign({**claims, "jti": uuid.uuid4().hex}, key=private, kid=kid, algorithm=algorithm)
              for _ in range(count)]
    return {"kid": kid, "tokens": tokens}


def main(argv: list[str]) -> None:
    settings = "tests.e2e.settings"
    if "--settings" in argv:
        at = argv.index("--settings")
        settings = argv[at + 1]
        del argv[at:at + 2]
    os.environ["DJANGO_SETTINGS_MODULE"] = settings
    import django

    django.setup()
    command = argv[0]
    if command == "serve":
        serve()
    elif command == "migrate":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    elif command == "issue":
        print(json.dumps({name: issue(name) for name in argv[1:]}), flush=True)
    elif command == "forge":
        print(json.dumps(forge(int(argv[1]))), flush=True)
    elif command == "manage":
        from django.core.management import call_command

        call_command(*argv[1:])
    else:
        change(command, argv[1])


if __name__ == "__main__":
    main(sys.argv[1:])
