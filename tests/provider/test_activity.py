"""The admin page "Token activity": who sees it, what it counts, and that every
number opens the admin list of exactly the rows it counts."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from oauth_tokens.provider import activity
from oauth_tokens.provider.models import TokenEvent
from tests.factories import ClientFactory, UserFactory
from tests.provider.activity_rows import events, every, rotations, tokens

pytestmark = pytest.mark.django_db

URL = "/admin/oauth_tokens_provider/activity/"
#: 10:30 in Chicago (the tests' TIME_ZONE, Django's default), two days after the switch to summer time.
NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def now(clock):
    clock.now = NOW
    return NOW


@pytest.fixture
def seeded(now):
    mobile, web = ClientFactory(name="Mobile app"), ClientFactory(name="Web <b>dashboard</b>")
    rotations(mobile, [now - timedelta(minutes=m) for m in (5, 10, 20)])  # 10:00 bucket
    rotations(mobile, [now - timedelta(minutes=70)])  # 09:00
    rotations(web, [now - timedelta(minutes=40), now - 26 * HOUR, now - 3 * timedelta(days=1)])
    tokens(mobile, every(now - 23 * HOUR, 30, timedelta(minutes=40)))
    tokens(web, [now - 2 * HOUR, now - 8 * timedelta(days=1)])
    events(TokenEvent.AUTH_FAILED, None, [now - HOUR, now - 2 * HOUR], client_identifier="nobody-knows-me")
    events(TokenEvent.AUTH_FAILED, web, [now - HOUR])
    events(activity.REFRESH_FAILED, mobile, [now - 3 * HOUR] * 4)
    events(TokenEvent.REUSE_DETECTED, web, [now - 4 * HOUR])
    events(activity.ANOMALY, mobile, [now - HOUR] * 2, detail="frequent_refresh: 9 rotations in 3600 s")
    events(activity.ANOMALY, web, [now - 5 * HOUR], detail="impossible_travel: 8,200 km in 1 h")
    events(activity.ANOMALY, web, [now - 5 * HOUR], detail="something new")
    return mobile, web


def panel(response, chart_id):
    return next(p for p in response.context["panels"] if p["id"] == chart_id)


def column(panel_, header):
    """{bucket label: count} of one series of a panel's table."""
    i = panel_["headers"].index(header)
    return {label: cells[i][0] for label, cells, _ in panel_["rows"] if cells[i][0]}


def test_the_provider_app_index_links_to_the_page(admin_client):
    assert reverse("admin:oauth_tokens_provider_activity") == URL
    page = admin_client.get("/admin/oauth_tokens_provider/").content.decode()
    assert f'href="{URL}"' in page and "Token activity" in page
    assert f'href="{URL}"' in admin_client.get("/admin/").content.decode()


def test_staff_see_it_with_the_permission_to_view_token_events(client, db):
    staff = UserFactory(username="operator", is_staff=True)
    client.force_login(staff)
    assert client.get(URL).status_code == 403
    assert f'href="{URL}"' not in client.get("/admin/").content.decode()
    staff.user_permissions.add(Permission.objects.get(codename="view_tokenevent"))
    assert client.get(URL).status_code == 200
    assert f'href="{URL}"' in client.get("/admin/").content.decode()


def test_without_staff_status_the_admin_login_answers(client, db):
    client.force_login(UserFactory(username="someone"))
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_a_number_links_only_to_lists_the_user_may_view(client, seeded):
    staff = UserFactory(username="operator", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_tokenevent"))
    client.force_login(staff)
    page = client.get(URL).content.decode()
    assert "/admin/oauth_tokens_provider/tokenevent/?" in page
    assert "/accesstoken/?" not in page and "/refreshtoken/?" not in page


def test_refreshes_are_counted_per_hour_and_client_over_the_last_24_hours(admin_client, seeded):
    response = admin_client.get(URL)
    refreshes = panel(response, "refreshes")
    assert column(refreshes, "Mobile app") == {"10:00": 3, "09:00": 1}
    assert column(refreshes, "Web <b>dashboard</b>") == {"09:00": 1}  # not 26 hours or 3 days ago
    assert refreshes["total"][0] == 5  # the families' first tokens are not refreshes
    assert [label for label, _, _ in refreshes["rows"]][:2] == ["11:00", "12:00"]  # yesterday's, local time
    assert len(refreshes["rows"]) == 24
    summary = {label: number.value for label, number in response.context["summary"]}
    assert summary == {
        "Tokens issued": 31, "Refreshes": 5, "Failed client authentications": 3, "Failed refreshes": 4,
        "Reuse detections": 1, "Anomalies": 4,
    }


def test_seven_days_in_daily_buckets_of_local_days(admin_client, seeded):
    refreshes = panel(admin_client.get(URL + "?window=7d"), "refreshes")
    labels = [label for label, _, _ in refreshes["rows"]]
    assert labels == ["Wed 04", "Thu 05", "Fri 06", "Sat 07", "Sun 08", "Mon 09", "Tue 10"]
    assert column(refreshes, "Web <b>dashboard</b>") == {"Sat 07": 1, "Mon 09": 1, "Tue 10": 1}
    assert column(refreshes, "Mobile app") == {"Tue 10": 4}


def test_failures_reuse_and_anomalies_by_kind(admin_client, seeded):
    response = admin_client.get(URL)
    failures = panel(response, "failures")
    assert column(failures, "Failed client authentications") == {"09:00": 2, "08:00": 1}
    assert column(failures, "Failed refreshes") == {"07:00": 4}
    assert panel(response, "reuse")["total"][0] == 1
    anomalies = panel(response, "anomalies")
    assert column(anomalies, "Unusually frequent refreshes") == {"09:00": 2}
    assert column(anomalies, "Impossible travel") == {"05:00": 1}
    assert column(anomalies, "Other") == {"05:00": 1}
    failing = dict(response.context["failing_clients"])
    assert [n for n, _ in failing["Unknown client id"]] == [2, 0, 0]
    assert [n for n, _ in failing["Mobile app"]] == [0, 4, 0]
    assert [n for n, _ in failing["Web <b>dashboard</b>"]] == [1, 0, 1]


def test_top_clients_by_tokens_issued(admin_client, seeded):
    top = admin_client.get(URL).context["top_clients"]
    assert [(name, issued.value, refreshed.value) for name, issued, refreshed in top] == [
        ("Mobile app", 30, 4), ("Web <b>dashboard</b>", 1, 1),
    ]


LINKED_NUMBER = re.compile(r'<a href="([^"]+)">([\d,]+)</a>')


@pytest.mark.parametrize("window", ["24h", "7d"])
def test_every_number_opens_the_list_of_the_rows_it_counts(admin_client, seeded, window):
    page = admin_client.get(f"{URL}?window={window}").content.decode()
    links = LINKED_NUMBER.findall(page)
    assert len(links) > 30
    targets = {"accesstoken", "refreshtoken", "tokenevent"}
    for href, number in links:
        href = html.unescape(href)
        assert href.split("/")[3] in targets, href
        listing = admin_client.get(href)
        assert listing.status_code == 200, href  # an unknown filter would redirect with ?e=1
        assert listing.context["cl"].result_count == int(number.replace(",", "")), href


def test_the_links_use_the_lists_own_filters(admin_client, seeded):
    mobile, _ = seeded
    page = html.unescape(admin_client.get(URL).content.decode())
    assert f"client__id__exact={mobile.pk}" in page
    assert "kind__exact=reuse_detected" in page
    assert "detail__startswith=frequent_refresh%3A" in page
    assert "created_at__gte=2026-03-09+16%3A00%3A00%2B00%3A00" in page  # 11:00 in Chicago, yesterday


def test_the_page_is_svg_without_script_or_style_attributes(admin_client, seeded):
    page = admin_client.get(URL).content.decode()
    content = page[page.index('<div id="content-main"'):page.index('<footer')]
    assert "<script" not in content and "style=" not in content
    assert all(tag.count(" src=") for tag in re.findall(r"<script[^>]*>", page))  # the admin's own: files only
    charts = re.findall(r'<svg class="ot-chart" id="([^"]+)" role="img" aria-labelledby="\1-title \1-desc"', content)
    assert charts == ["refreshes", "failures", "reuse", "anomalies", "top-clients"]
    assert content.count("<title id=") == 5 and content.count("<desc id=") == 5
    assert "<b>dashboard</b>" not in content and "Web &lt;b&gt;dashboard&lt;/b&gt;" in content
    assert "/static/oauth_tokens_provider/activity.css" in page


def test_an_empty_window_says_so(admin_client, now):
    page = admin_client.get(URL).content.decode()
    assert page.count("None in this window") >= 5
    assert "No tokens issued in this window." in page and "No failures in this window." in page


def test_an_unknown_window_is_the_last_24_hours(admin_client, now):
    assert admin_client.get(URL + "?window=1y").context["window"].name == "24h"


@pytest.mark.parametrize("families", [1, 40])
def test_the_page_makes_the_same_few_queries_whatever_the_rows(admin_client, now, families,
                                                               django_assert_max_num_queries):
    clients = [ClientFactory(name=f"app {i}") for i in range(8)]
    for i in range(families):
        rotations(clients[i % 8], every(now - 20 * HOUR, 6, HOUR))
        tokens(clients[i % 8], every(now - 20 * HOUR, 12, HOUR))
        events(activity.ANOMALY, clients[i % 8], [now - HOUR], detail="new_location: 203.0.113.0/24")
    admin_client.get(URL)  # the session and the user are loaded like on any admin page
    with django_assert_max_num_queries(8):
        assert admin_client.get(URL + "?window=7d").status_code == 200


def test_an_object_url_under_the_page_leads_to_it(admin_client, seeded):
    event = TokenEvent.objects.first()
    for url in (f"{URL}{event.pk}/change/", f"{URL}{event.pk}/delete/", f"{URL}add/"):
        response = admin_client.get(url)
        assert response.status_code == 302 and response["Location"] == URL
