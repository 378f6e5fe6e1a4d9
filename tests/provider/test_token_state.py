"""A token's state is defined once (provider/token_state.py): for every state, the
rows a query for it returns are exactly the rows whose ``.state`` says so, on the
database under test, at several moments; the admin's state filter and column follow."""

from datetime import timedelta
from uuid import uuid4

import pytest

from oauth_tokens import crypto
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken
from oauth_tokens.provider.token_state import TokenState
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

BASE = "/admin/oauth_tokens_provider"
SECOND, HOUR, DAY = timedelta(seconds=1), timedelta(hours=1), timedelta(days=1)
ACTIVE, ROTATED, EXPIRED, REVOKED = TokenState.ACTIVE, TokenState.ROTATED, TokenState.EXPIRED, TokenState.REVOKED


@pytest.fixture
def refresh_rows(clock, user):
    """Refresh tokens in every state, with the edges: (row, its state now)."""
    at = clock.now
    setting = ClientFactory(name="The setting's family lifetime")
    zero = ClientFactory(name="0 means the setting", refresh_family_lifetime=0)
    own = ClientFactory(name="Own family lifetime of an hour", refresh_family_lifetime=3600)
    longer = ClientFactory(name="Own family lifetime a day over the setting")
    longer.refresh_family_lifetime = setting.family_lifetime() + 86400
    longer.save()
    family = timedelta(seconds=setting.family_lifetime())

    def row(client=setting, **fields):
        values = {"expires_at": at + HOUR, "family_started_at": at - HOUR, **fields}
        return RefreshToken.objects.create(digest=crypto.digest(str(uuid4())), family=uuid4(), client=client,
                                           user=user, **values)

    return [
        (row(), ACTIVE),
        (row(client=own, family_started_at=at - HOUR + SECOND), ACTIVE),
        (row(family_started_at=at - family + SECOND), ACTIVE),
        (row(client=longer, family_started_at=at - family - HOUR), ACTIVE),
        (row(used_at=at - HOUR), ROTATED),
        (row(used_at=at - 2 * HOUR, expires_at=at - HOUR), ROTATED),  # a tombstone past its expiry
        (row(used_at=at - HOUR, family_started_at=at - family), ROTATED),
        (row(revoked_at=at - HOUR), REVOKED),
        (row(revoked_at=at - HOUR, used_at=at - 2 * HOUR, expires_at=at - SECOND), REVOKED),
        (row(expires_at=at), EXPIRED),
        (row(expires_at=at - DAY), EXPIRED),
        (row(family_started_at=at - family), EXPIRED),  # the family's end, though its own expiry is later
        (row(client=zero, family_started_at=at - family), EXPIRED),
        (row(client=own, family_started_at=at - HOUR), EXPIRED),
    ]


@pytest.fixture
def access_rows(clock, user):
    at, client = clock.now, ClientFactory()

    def row(**fields):
        return AccessToken.objects.create(jti=str(uuid4()), client=client, user=user,
                                          **{"expires_at": at + HOUR, **fields})

    return [
        (row(), ACTIVE),
        (row(expires_at=at + SECOND), ACTIVE),
        (row(expires_at=at), EXPIRED),
        (row(expires_at=at - DAY), EXPIRED),
        (row(revoked_at=at - SECOND), REVOKED),
        (row(revoked_at=at - DAY, expires_at=at - HOUR), REVOKED),
    ]


def states_by_query(model) -> dict[int, TokenState]:
    found: dict[int, TokenState] = {}
    for state in TokenState:
        for pk in model.objects.in_state(state).values_list("pk", flat=True):
            assert pk not in found, f"row {pk} is both {found[pk]} and {state}"
            found[pk] = state
    return found


def states_by_row(model) -> dict[int, TokenState]:
    return {row.pk: row.state for row in model.objects.select_related("client")}


def test_the_refresh_token_property_says_each_state(refresh_rows):
    assert [RefreshToken.objects.get(pk=row.pk).state for row, _ in refresh_rows] == [s for _, s in refresh_rows]


def test_the_access_token_property_says_each_state(access_rows):
    assert [AccessToken.objects.get(pk=row.pk).state for row, _ in access_rows] == [s for _, s in access_rows]


@pytest.mark.parametrize("model", [RefreshToken, AccessToken])
def test_each_state_query_returns_exactly_the_rows_in_that_state(model, refresh_rows, access_rows, clock):
    # Now, a minute on, two hours on (past every own expiry), past the setting's family lifetime.
    for seconds in (0, 60, 7200, Client().family_lifetime()):
        clock.advance(seconds)
        by_row = states_by_row(model)
        assert states_by_query(model) == by_row
        for state in TokenState:
            expected = {pk for pk, s in by_row.items() if s == state}
            assert set(model.objects.in_state(state).values_list("pk", flat=True)) == expected
    assert ACTIVE not in by_row.values()


def test_every_state_has_rows_at_the_start(refresh_rows, access_rows):
    """The agreement above is not vacuous: each state the model knows has a row."""
    assert set(states_by_query(RefreshToken).values()) == set(TokenState)
    assert set(states_by_query(AccessToken).values()) == {ACTIVE, EXPIRED, REVOKED}


def test_the_shorthands_are_the_states(refresh_rows):
    for state, shorthand in [(ACTIVE, "active"), (ROTATED, "rotated"), (EXPIRED, "expired"), (REVOKED, "revoked")]:
        expected = {row.pk for row, s in refresh_rows if s == state}
        assert set(getattr(RefreshToken.objects, shorthand)().values_list("pk", flat=True)) == expected
        assert set(RefreshToken.objects.in_state(state.value).values_list("pk", flat=True)) == expected


def test_a_state_at_another_moment(refresh_rows, clock):
    fresh = refresh_rows[0][0]
    assert fresh in RefreshToken.objects.active()
    assert fresh in RefreshToken.objects.expired(clock.now + HOUR)
    assert fresh not in RefreshToken.objects.active(clock.now + HOUR)
    assert RefreshToken.objects.filter(pk=fresh.pk).past_expiry(clock.now + HOUR).exists()
    assert not RefreshToken.objects.filter(pk=fresh.pk).past_expiry().exists()


def test_an_access_token_is_never_rotated_and_a_state_must_exist(access_rows):
    assert AccessToken.objects.states() == [ACTIVE, EXPIRED, REVOKED]
    assert RefreshToken.objects.states() == [ACTIVE, ROTATED, EXPIRED, REVOKED]
    assert not AccessToken.objects.in_state(ROTATED).exists()
    with pytest.raises(ValueError):
        AccessToken.objects.in_state("used")


# -- the admin ------------------------------------------------------------------------------


def admin_rows(admin_client, model: str, query: str = "") -> dict[int, str]:
    """pk -> the text of the state column, of the rows a changelist shows."""
    response = admin_client.get(f"{BASE}/{model}/{query}")
    assert response.status_code == 200, response.content[:500]
    changelist = response.context["cl"]
    return {row.pk: changelist.model_admin.state_display(row) for row in changelist.result_list}


@pytest.mark.parametrize("model, admin_name", [(RefreshToken, "refreshtoken"), (AccessToken, "accesstoken")])
def test_the_admin_state_filter_lists_the_rows_its_column_names(admin_client, model, admin_name, refresh_rows,
                                                                 access_rows):
    """Before, a rotated token past its expiry was listed under "Expired" too (its column
    said rotated), and one whose family had ended under "Active" (its column said expired)."""
    expected = {pk: str(state) for pk, state in states_by_row(model).items()}
    assert admin_rows(admin_client, admin_name) == expected
    for state in model.objects.states():
        shown = admin_rows(admin_client, admin_name, f"?state={state.value}")
        assert shown == {pk: s for pk, s in expected.items() if s == state.value}
        assert shown, state


def test_the_admin_state_filter_keeps_its_labels(admin_client, refresh_rows, access_rows):
    refresh = admin_client.get(f"{BASE}/refreshtoken/").content.decode()
    access = admin_client.get(f"{BASE}/accesstoken/").content.decode()
    for label in ("Active", "Rotated (used)", "Expired", "Revoked"):
        assert f"?state={label.split()[0].lower()}" in refresh and f">{label}</a>" in refresh
    assert "?state=rotated" not in access and ">Expired</a>" in access
    # A value it does not know filters nothing, as before.
    assert len(admin_rows(admin_client, "accesstoken", "?state=used")) == len(access_rows)
