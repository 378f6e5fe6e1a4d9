from datetime import timedelta

import pytest
from django.utils import timezone


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
