"""The resource test URLs without the deliberately misconfigured view."""

from tests.resource.urls import urlpatterns as all_urlpatterns

urlpatterns = [p for p in all_urlpatterns if "undeclared" not in str(p.pattern)]
