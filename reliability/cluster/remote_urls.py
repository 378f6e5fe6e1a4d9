"""The remote service's API: GET /api/me (scope ``read``), and GET /health for the
demo to know it is up (it has no metadata of its own to ask)."""

from django.http import HttpResponse
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from oauth_tokens.resource.permissions import HasScope


class Me(APIView):
    permission_classes = [HasScope]
    required_scopes = ["read"]

    def get(self, request):
        return Response({"sub": request.auth.subject, "client_id": request.auth.client_id})


def health(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("api/me", Me.as_view()), path("health", health)]
