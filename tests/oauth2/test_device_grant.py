"""The device code grant against the in-memory store (RFC 8628 sections 3.4, 3.5, 6.1)."""

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from oauth_tokens.oauth2 import device
from oauth_tokens.oauth2.errors import (
    AccessDenied,
    AuthorizationPending,
    ExpiredToken,
    InvalidGrant,
    SlowDown,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from oauth_tokens.oauth2.grants import DeviceCodeGrant
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.oauth2.server import create_token_response
from oauth_tokens.oauth2.store import TokenSet
from tests.oauth2.memory_store import MemClient, MemoryStore


@dataclass
class MemDeviceCode:
    client_id: str
    scope: str
    expires_at: datetime
    interval: int = 5
    status: str = device.PENDING
    last_polled_at: datetime | None = None
    family: uuid.UUID = field(default_factory=uuid.uuid4)
    resources: str = ""

    def issued_to(self, client: MemClient) -> bool:
        return self.client_id == client.client_id


class DeviceStore(MemoryStore):
    """``MemoryStore`` with device codes: the same contract as the ORM store."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.enabled = True
        self.devices: dict[str, MemDeviceCode] = {}

    def add_device_code(self, client, *, scope="read", ttl=600, interval=5, resources=()) -> str:
        value = secrets.token_urlsafe(32)
        self.devices[value] = MemDeviceCode(client.client_id, scope, self.clock + timedelta(seconds=ttl),
                                            interval=interval, resources="\n".join(resources))
        return value

    def device_flow_enabled(self) -> bool:
        return self.enabled

    def find_device_code(self, device_code):
        return self.devices.get(device_code)

    def record_poll(self, code, *, slow_down_step):
        previous, code.last_polled_at = code.last_polled_at, self.clock
        if previous is not None and (self.clock - previous).total_seconds() < code.interval:
            code.interval += slow_down_step
            return False
        return True

    def redeem_device_code(self, code, client, resources=()) -> TokenSet | None:
        if code.status != device.APPROVED:
            return None
        code.status = device.USED
        wants_refresh = "refresh_token" in client.grant_type_list
        return self._issue(client, code.scope, code.family, refresh_scope=code.scope if wants_refresh else None,
                           resources=resources, grant_resources=code.resources)


GRANTS = (device.GRANT_TYPE, "refresh_token")


@pytest.fixture
def store():
    return DeviceStore()


@pytest.fixture
def tv(store):
    return store.add_client("tv", grant_type_list=GRANTS)


def poll(store, client, device_code):
    params = {"grant_type": device.GRANT_TYPE, "device_code": device_code, "client_id": client.client_id}
    request = TokenRequest.build(content_type="application/json", body=json.dumps(params).encode())
    return create_token_response(request, store)[1]


def test_pending_until_approved_then_tokens_once(store, tv):
    code = store.add_device_code(tv)
    with pytest.raises(AuthorizationPending):
        poll(store, tv, code)
    store.advance(5)
    store.devices[code].status = device.APPROVED
    tokens = poll(store, tv, code)
    assert tokens.access_token and tokens.refresh_token and tokens.scope == "read"
    store.advance(5)
    with pytest.raises(InvalidGrant):
        poll(store, tv, code)


def test_polling_faster_than_the_interval_is_slow_down_and_the_interval_grows(store, tv):
    code = store.add_device_code(tv, interval=5)
    with pytest.raises(AuthorizationPending):
        poll(store, tv, code)
    store.advance(4)
    with pytest.raises(SlowDown) as caught:
        poll(store, tv, code)
    assert caught.value.to_dict()["error"] == "slow_down" and caught.value.status_code == 400
    assert store.devices[code].interval == 10
    store.advance(5)  # the old interval is not enough any more
    with pytest.raises(SlowDown):
        poll(store, tv, code)
    store.advance(15)
    with pytest.raises(AuthorizationPending):
        poll(store, tv, code)


def test_an_expired_code_is_expired_token_whatever_its_state(store, tv):
    code = store.add_device_code(tv, ttl=600)
    store.devices[code].status = device.APPROVED
    store.advance(600)
    with pytest.raises(ExpiredToken) as caught:
        poll(store, tv, code)
    assert caught.value.to_dict()["error"] == "expired_token"


def test_a_denied_request_is_access_denied_with_status_400(store, tv):
    code = store.add_device_code(tv)
    store.devices[code].status = device.DENIED
    with pytest.raises(AccessDenied) as caught:
        poll(store, tv, code)
    assert caught.value.status_code == 400 and caught.value.to_dict()["error"] == "access_denied"


def test_unknown_code_or_another_clients_code_is_invalid_grant(store, tv):
    other = store.add_client("other", grant_type_list=GRANTS)
    code = store.add_device_code(other)
    for value in ("nope", code):
        with pytest.raises(InvalidGrant):
            poll(store, tv, value)


def test_of_two_polls_racing_after_approval_one_gets_tokens_the_other_invalid_grant(store, tv):
    code = store.add_device_code(tv)
    store.devices[code].status = device.APPROVED
    params = {"grant_type": device.GRANT_TYPE, "device_code": code, "client_id": "tv"}

    grants = []
    for _ in range(2):
        request = TokenRequest.build(content_type="application/json", body=json.dumps(params).encode())
        grant = DeviceCodeGrant(request, tv, store)
        grant.validate()  # both see "approved"
        grants.append(grant)
    assert grants[0].issue().access_token
    with pytest.raises(InvalidGrant):
        grants[1].issue()


def test_the_client_must_have_the_grant_type(store):
    web = store.add_client("web", grant_type_list=("authorization_code",))
    code = store.add_device_code(web)
    with pytest.raises(UnauthorizedClient):
        poll(store, web, code)


def test_a_store_without_device_codes_or_with_them_off_does_not_offer_the_grant(store, tv):
    code = store.add_device_code(tv)
    store.enabled = False
    with pytest.raises(UnsupportedGrantType):
        poll(store, tv, code)
    plain = MemoryStore()
    plain.clients["tv"] = tv
    with pytest.raises(UnsupportedGrantType):
        poll(plain, tv, code)


def test_user_codes_are_easy_to_type_and_read_leniently():
    codes = {device.new_user_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 8 and set(code) <= set(device.USER_CODE_ALPHABET)
        shown = device.display(code)
        assert shown[4] == "-"
        assert device.normalize_user_code(shown) == code
        assert device.normalize_user_code(shown.lower()) == code
        assert device.normalize_user_code(" " + shown.lower().replace("-", " ") + " ") == code
    for typed in ("", "BCDF-GHJ", "BCDF-GHJKL", "BCDF-GHJA", "BCDF-GHJ1", "BCDF_GHJK"):
        assert device.normalize_user_code(typed) is None


def test_the_response_has_every_field_of_section_3_2():
    body = device.DeviceAuthorization("dc", "BCDFGHJK", "https://as.example/oauth/device", 600, 5).to_dict()
    assert body == {
        "device_code": "dc", "user_code": "BCDF-GHJK", "verification_uri": "https://as.example/oauth/device",
        "verification_uri_complete": "https://as.example/oauth/device?user_code=BCDF-GHJK",
        "expires_in": 600, "interval": 5,
    }
