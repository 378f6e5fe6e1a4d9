from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from oauth_tokens.resource.permissions import HasScope


class Me(APIView):
    permission_classes = [HasScope]
    required_scopes = ["read"]

    def get(self, request):
        return Response({"sub": request.auth.subject, "client_id": request.auth.client_id})


urlpatterns = [path("api/me", Me.as_view())]
