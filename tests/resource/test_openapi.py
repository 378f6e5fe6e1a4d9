"""drf-spectacular documents the bearer scheme and each view's scopes (optional dependency)."""

import pytest

pytest.importorskip("drf_spectacular")

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator(urlconf="tests.resource.openapi_urls").get_schema(request=None, public=True)


def test_security_scheme_is_oauth2_with_our_endpoints_and_scopes(schema):
    scheme = schema["components"]["securitySchemes"]["oauth2"]
    assert scheme["type"] == "oauth2"
    flows = scheme["flows"]
    assert flows["authorizationCode"]["authorizationUrl"] == "https://auth.example.test/oauth/authorize"
    assert flows["clientCredentials"]["tokenUrl"] == "https://auth.example.test/oauth/token"
    assert "read" in flows["clientCredentials"]["scopes"]


def test_operations_list_their_scopes(schema):
    paths = schema["paths"]
    assert paths["/api/me"]["get"]["security"] == [{"oauth2": ["read"]}]
    assert paths["/t/orders"]["get"]["security"] == [{"oauth2": ["orders:read"]}]
    assert paths["/t/orders"]["post"]["security"] == [{"oauth2": ["orders:write"]}]
    assert paths["/t/any"]["get"]["security"] == [{"oauth2": ["admin"]}, {"oauth2": ["write"]}]
