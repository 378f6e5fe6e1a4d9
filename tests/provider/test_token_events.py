"""TokenEvent kinds: the choices hold the kinds the code writes plus the monitoring
contract (DESIGN.md section 6); rows of a kind retired by migration 0007 ("issued",
"refreshed") still show in the admin, with their raw value."""

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from oauth_tokens.provider.models import TokenEvent
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

BASE = "/admin/oauth_tokens_provider/tokenevent"
PACKAGE = Path(__file__).resolve().parents[2] / "oauth_tokens"
#: Named by the monitoring contract, written by the monitoring when it lands.
CONTRACT = {"refresh_failed", "anomaly"}


def test_the_kinds_are_those_the_code_writes_and_the_monitoring_contract():
    source = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py") if p.name != "models.py")
    written = {getattr(TokenEvent, name) for name in re.findall(r"TokenEvent\.([A-Z_]+)\b", source)
               if name != "KINDS"}
    assert {kind for kind, _ in TokenEvent.KINDS} == written | CONTRACT
    assert (TokenEvent.REFRESH_FAILED, TokenEvent.ANOMALY) == ("refresh_failed", "anomaly")
    assert not {"issued", "refreshed"} & {kind for kind, _ in TokenEvent.KINDS}


def test_the_admin_kind_filter_lists_the_kinds_there_are(admin_client):
    html = admin_client.get(f"{BASE}/").content.decode()
    offered = set(re.findall(r'href="\?kind__exact=([a-z_]+)"', html))
    assert offered == {kind for kind, _ in TokenEvent.KINDS}
    for _, label in TokenEvent.KINDS:
        assert f">{label}</a>" in html
    assert "Tokens issued" not in html and "Refresh token rotated" not in html


def test_rows_of_a_retired_kind_show_their_raw_value(admin_client):
    client = ClientFactory(name="Old")
    old = [TokenEvent.objects.create(kind=kind, client=client, client_identifier=client.client_id,
                                     created_at=timezone.now()) for kind in ("issued", "refreshed")]
    current = TokenEvent.objects.create(kind=TokenEvent.REVOKED, client=client, client_identifier=client.client_id)
    assert [str(e).split(" (")[0] for e in old] == ["issued", "refreshed"]

    listing = admin_client.get(f"{BASE}/")
    assert listing.status_code == 200
    changelist = listing.context["cl"]
    shown = {row.pk: changelist.model_admin.kind_label(row) for row in changelist.result_list}
    assert shown == {old[0].pk: "issued", old[1].pk: "refreshed", current.pk: "Tokens revoked"}
    html = listing.content.decode()
    assert '<td class="field-kind_label">issued</td>' in html
    assert '<td class="field-kind_label">Tokens revoked</td>' in html
    for row, text in [(old[0], "issued"), (old[1], "refreshed"), (current, "Tokens revoked")]:
        page = admin_client.get(f"{BASE}/{row.pk}/change/")
        assert page.status_code == 200
        assert f'<div class="readonly">{text}</div>' in page.content.decode()
    # Sorting by the kind column sorts by the stored value.
    ordered = admin_client.get(f"{BASE}/?o=1").context["cl"].result_list
    assert [e.kind for e in ordered] == sorted(["issued", "refreshed", "revoked"])
    # Filtering by a retired kind by hand still works; the filter just does not offer it.
    manual = admin_client.get(f"{BASE}/?kind__exact=issued").context["cl"].result_list
    assert [e.pk for e in manual] == [old[0].pk]


@pytest.mark.django_db(transaction=True)
def test_migration_0007_keeps_rows_of_the_retired_kinds():
    app = "oauth_tokens_provider"
    before, after = (app, "0006_client_auth_failures_event"), (app, "0007_token_event_kinds")

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([target])
        return executor.loader.project_state([target]).apps

    try:
        apps = migrate(before)
        Event = apps.get_model(app, "TokenEvent")
        kept = {Event.objects.create(kind=kind).pk: kind for kind in ("issued", "refreshed", "revoked")}
        apps = migrate(after)
        Event = apps.get_model(app, "TokenEvent")
        assert dict(Event.objects.values_list("pk", "kind")) == kept
        # 0007's choices: today's kinds as of then (later migrations add kinds, e.g. client_registered).
        kinds_0007 = {kind for kind, _ in Event._meta.get_field("kind").choices}
        assert {"refresh_failed", "anomaly"} <= kinds_0007 <= {kind for kind, _ in TokenEvent.KINDS}
        assert not kinds_0007 & {"issued", "refreshed"}
        migrate(before)
        assert dict(apps.get_model(app, "TokenEvent").objects.values_list("pk", "kind")) == kept
    finally:
        call_command("migrate", verbosity=0)
