"""Pure tests of ``oauth_tokens.oauth2``: no database, no cache, no settings.

pytest-django refuses database access to any test without the ``django_db``
mark, and the fixture below replaces the suite-wide autouse fixture that clears
Django's cache and the signing-key cache, so nothing here touches Django.
``test_no_django.py`` proves the package itself never imports Django.
"""

import pytest

from tests.oauth2.memory_store import MemoryStore


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Overrides tests/conftest.py: the spec layer has no process state to reset."""
    yield


@pytest.fixture
def store():
    return MemoryStore()
