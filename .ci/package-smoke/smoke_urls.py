"""URLs of the package-check project: the provider's endpoints, discovery, and
three protected views (DRF, plain Django, async Django) the way docs/resource.md writes them."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from oauth_tokens.resource.decorators import bearer_required
from oauth_tokens.resource.permissions import HasScope


class MeView(APIView):
    permission_classes = [HasScope]
    required_scopes = ["read"]

    def get(self, request):
        return Response({"sub": request.auth.subject, "client_id": request.auth.client_id,
                         "scope": request.auth.scope})


@bearer_required(scopes=["read"])
def plain(request):
    return JsonResponse({"sub": request.auth.subject})


@bearer_required(scopes=["read"])
async def async_plain(request):
    return JsonResponse({"sub": request.auth.subject})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("oauth/", include("oauth_tokens.provider.urls")),
    path("", include("oauth_tokens.provider.well_known_urls")),
    path("api/me", MeView.as_view()),
    path("api/plain", plain),
    path("api/async", async_plain),
]
