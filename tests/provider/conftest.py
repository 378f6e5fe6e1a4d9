from datetime import timedelta

import pytest
from django.utils import timezone

from oauth_tokens import signals


class Clock:
    """The provider's clock (``oauth_tokens.provider.models.now``), moved by hand."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("oauth_tokens.provider.models.now", clock)
    return clock


@pytest.fixture
def sent():
    """The ``token_anomaly`` and ``reauthorization_required`` signals sent meanwhile."""
    got: dict[str, list] = {"anomaly": [], "reauth": []}

    def on_anomaly(sender, **kwargs):
        got["anomaly"].append(kwargs)

    def on_reauth(sender, **kwargs):
        got["reauth"].append(kwargs)

    signals.token_anomaly.connect(on_anomaly, dispatch_uid="test-anomaly")
    signals.reauthorization_required.connect(on_reauth, dispatch_uid="test-reauth")
    yield got
    signals.token_anomaly.disconnect(dispatch_uid="test-anomaly")
    signals.reauthorization_required.disconnect(dispatch_uid="test-reauth")
