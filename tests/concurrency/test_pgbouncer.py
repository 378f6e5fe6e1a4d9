"""With PGBOUNCER=1 the server-database tests run through PgBouncer in
transaction mode: prove that the connections really go through it."""

import httpx
import pytest
from django.db import connection

from oauth_tokens.provider.models import AccessToken
from tests.conftest import basic

pytestmark = [pytest.mark.pgbouncer, pytest.mark.django_db(transaction=True)]


def test_the_live_server_reaches_postgresql_through_pgbouncer(pgbouncer, live_server, oauth_client):
    assert connection.settings_dict["PORT"] == str(pgbouncer.port)
    response = httpx.post(live_server.url + "/oauth/token", data={"grant_type": "client_credentials"},
                          headers={"Authorization": basic(oauth_client.client_id, oauth_client.secret)})
    assert response.status_code == 200, response.text
    assert AccessToken.objects.filter(client=oauth_client).count() == 1
    # PgBouncer logged the clients it let in to the test database.
    assert f"db={connection.settings_dict['NAME']}" in pgbouncer.log()
