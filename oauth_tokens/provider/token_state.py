"""The state of a token (active, rotated, expired, revoked), defined once.

Each kind of token has a table of tests, strongest first: a token is in the
state of the first test it passes, and active when it passes none. Every test
is written twice, side by side, as a database lookup and as a check of a loaded
row, so that ``RefreshToken.objects.in_state(s)`` returns exactly the rows whose
``.state`` is ``s`` (tests/provider/test_token_state.py holds them to that on
each database). The model property, the admin's state filter and column, and
``cleartokens`` (through ``past_expiry``) all read it from here.

The clock is ``oauth_tokens.provider.models.now``, which tests move; that
module imports this one and hands it its clock (``use_clock``), so nothing here
imports it back.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import reduce
from typing import Any, NamedTuple

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TokenState(models.TextChoices):
    ACTIVE = "active", _("Active")
    ROTATED = "rotated", _("Rotated (used)")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


class StateTest(NamedTuple):
    """A token that passes this test is in ``state`` (unless an earlier test took it)."""

    state: TokenState
    #: The test as a lookup, for the rows of a token model at a moment.
    lookup: Callable[[Any, datetime], Q]
    #: The same test on a loaded row, at a moment.
    passes: Callable[[Any, datetime], bool]


#: The clock the default ``at`` reads; ``models`` sets the provider's (``use_clock``).
_clock: Callable[[], datetime] = timezone.now


def use_clock(clock: Callable[[], datetime]) -> None:
    global _clock
    _clock = clock


def clock() -> datetime:
    return _clock()


def family_ended(model: Any, at: datetime) -> Q:
    """Refresh tokens whose family outlived its client's family lifetime at ``at``.

    That lifetime is a client's own value or the setting (``Client.family_lifetime``),
    so there is one condition per distinct value the clients have: one small query,
    and no duration arithmetic, which the databases spell differently."""
    client_model = model._meta.get_field("client").related_model
    own_values = client_model.objects.order_by().values_list("refresh_family_lifetime", flat=True).distinct()
    ended = [
        Q(client__refresh_family_lifetime=own, family_started_at__lte=at - timedelta(
            seconds=client_model(refresh_family_lifetime=own).family_lifetime()))
        for own in own_values
    ]
    return reduce(operator.or_, ended, Q(pk__in=[]))


REVOKED = StateTest(TokenState.REVOKED, lambda model, at: Q(revoked_at__isnull=False),
                    lambda token, at: token.revoked_at is not None)
ROTATED = StateTest(TokenState.ROTATED, lambda model, at: Q(used_at__isnull=False),
                    lambda token, at: token.used_at is not None)

#: An access token is revoked, else expired, else active.
ACCESS_TOKEN_TESTS = (
    REVOKED,
    StateTest(TokenState.EXPIRED, lambda model, at: Q(expires_at__lte=at), lambda token, at: token.expires_at <= at),
)
#: A refresh token is revoked, else rotated (used: its successor took over), else
#: expired (its own expiry, or the end of its family), else active.
REFRESH_TOKEN_TESTS = (
    REVOKED,
    ROTATED,
    StateTest(
        TokenState.EXPIRED,
        lambda model, at: Q(expires_at__lte=at) | family_ended(model, at),
        lambda token, at: token.expires_at <= at or token.family_expires_at() <= at,
    ),
)


class ExpiringQuerySet(models.QuerySet):
    """Rows with an ``expires_at``: authorization codes and both kinds of token."""

    def past_expiry(self, at: datetime | None = None):
        """Rows whose own expiry has come, whatever else happened to them (what
        ``cleartokens`` may delete, given the rules it adds)."""
        return self.filter(expires_at__lte=at or clock())

    def before_expiry(self, at: datetime | None = None):
        return self.filter(expires_at__gt=at or clock())


class TokenQuerySet(ExpiringQuerySet):
    """Tokens by state; the model's ``state`` property asks ``state_of``."""

    tests: Sequence[StateTest] = ()

    def states(self) -> list[TokenState]:
        """The states this kind of token can be in, in TokenState's order."""
        possible = {TokenState.ACTIVE, *(test.state for test in self.tests)}
        return [state for state in TokenState if state in possible]

    @classmethod
    def state_of(cls, token, at: datetime | None = None) -> TokenState:
        at = at or clock()
        return next((test.state for test in cls.tests if test.passes(token, at)), TokenState.ACTIVE)

    def in_state(self, state: str, at: datetime | None = None):
        """The rows whose ``state`` is ``state`` at ``at`` (now by default); ValueError
        for a name that is not a TokenState."""
        state, at = TokenState(state), at or clock()
        earlier = Q()  # passes none of the stronger tests
        for test in self.tests:
            lookup = test.lookup(self.model, at)
            if test.state == state:
                return self.filter(earlier & lookup)
            earlier &= ~lookup
        return self.filter(earlier) if state == TokenState.ACTIVE else self.none()

    def active(self, at: datetime | None = None):
        return self.in_state(TokenState.ACTIVE, at)

    def rotated(self, at: datetime | None = None):
        return self.in_state(TokenState.ROTATED, at)

    def expired(self, at: datetime | None = None):
        return self.in_state(TokenState.EXPIRED, at)

    def revoked(self, at: datetime | None = None):
        return self.in_state(TokenState.REVOKED, at)


class AccessTokenQuerySet(TokenQuerySet):
    tests = ACCESS_TOKEN_TESTS


class RefreshTokenQuerySet(TokenQuerySet):
    tests = REFRESH_TOKEN_TESTS
