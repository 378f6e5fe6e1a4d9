"""refresh_tokens (cron / Celery beat) and its progress bar on a terminal."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from oauth_tokens.consumer.models import ExternalToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def rows(fake, register, connected, clock):
    server = fake()
    register(ext=server.config())
    soon = connected("ext", server)
    later = connected("ext", server, user=UserFactory(username="bob"))
    lifetime = later.expires_at - later.obtained_at
    ExternalToken.objects.filter(pk=later.pk).update(expires_at=later.expires_at + lifetime)
    clock.advance(3600 - 60)  # ``soon`` expires within its 300 s leeway, ``later`` does not
    return server, soon, later


def test_refreshes_only_what_expires_soon(rows):
    server, soon, later = rows
    out = io.StringIO()
    call_command("refresh_tokens", stdout=out)
    assert "Refreshed 1 token(s)." in out.getvalue() and "\r" not in out.getvalue()
    assert ExternalToken.objects.get(pk=soon.pk).refresh_count == 1
    assert ExternalToken.objects.get(pk=later.pk).refresh_count == 0
    # Run again right away: nothing left to do, nothing sent.
    call_command("refresh_tokens", stdout=io.StringIO())
    assert len(server.token_requests) == 1


def test_within_option_and_progress_bar_on_a_terminal(rows):
    server, soon, later = rows
    out = Terminal()
    call_command("refresh_tokens", "--within", str(10 * 3600), stdout=out)
    text = out.getvalue()
    assert "Refreshing [###############---------------] 1/2" in text and "Refreshing [" + "#" * 30 + "] 2/2\n" in text
    assert "Refreshed 2 token(s)." in text


def test_dead_grants_are_reported(rows):
    server, soon, later = rows
    server.live_refresh.clear()
    out = io.StringIO()
    call_command("refresh_tokens", stdout=out)
    assert "1 token(s) need the user to connect again." in out.getvalue()


def test_provider_down_fails_the_command(rows):
    server, soon, later = rows
    server.script = [(503, {})] * 3
    with pytest.raises(CommandError, match="HTTP 503"):
        call_command("refresh_tokens", stdout=io.StringIO())


def test_reencrypt_progress_bar(rows):
    out = Terminal()
    call_command("reencrypt_tokens", stdout=out)
    assert "Re-encrypting [" + "#" * 30 + "] 2/2" in out.getvalue()


def test_importing_the_package_before_django_is_set_up_touches_no_model():
    code = (
        "import sys, oauth_tokens.consumer as c; "
        "assert 'oauth_tokens.consumer.models' not in sys.modules; "
        "assert 'get_access_token' in dir(c) and 'ReauthorizationRequired' in c.__all__; "
        "import django; django.setup(); "
        "from oauth_tokens.consumer import get_access_token, http_client, revoke, ReauthorizationRequired; "
        "from oauth_tokens.consumer import aget_access_token, ahttp_client, arevoke; print('ok')"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                            env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"})
    assert result.stdout.strip() == "ok", result.stderr


def test_a_row_of_a_provider_no_longer_configured_is_reported(rows):
    server, soon, later = rows
    ExternalToken.objects.filter(pk=later.pk).update(provider="gone")
    out = io.StringIO()
    with pytest.raises(CommandError, match="No provider 'gone'"):
        call_command("refresh_tokens", stdout=out)
    assert "Refreshed 1 token(s)." in out.getvalue()
