from django.http import HttpResponse
from django.utils.html import escape
from rest_framework.response import Response
from rest_framework.views import APIView

from oauth_tokens.resource.permissions import HasScope


class MeView(APIView):
    """GET /api/me (scope ``read``): who the presented token speaks for."""

    permission_classes = [HasScope]
    required_scopes = ["read"]

    def get(self, request):
        token = request.auth
        return Response({"sub": token.subject, "client_id": token.client_id, "scope": token.scope})


def home(request):
    return HttpResponse(
        "<h1>oauth_tokens demo</h1><ul>"
        '<li><a href="/admin/">Admin</a></li>'
        '<li><a href="/accounts/login/">Log in</a></li>'
        '<li><a href="/demo/consumer/">Consumer demo (this site as an external provider)</a></li></ul>'
    )


def callback(request):
    """Where the demo's code-flow client lands: shows the code to paste into curl."""
    code = request.GET.get("code", "")
    error = request.GET.get("error", "")
    body = f"<p>error: {escape(error)}</p>" if error else (
        f"<p>Authorization code (valid for 60 s, single use):</p><pre>{escape(code)}</pre>"
        f"<p>state: {escape(request.GET.get('state', ''))}</p>"
    )
    response = HttpResponse(f"<h1>Demo callback</h1>{body}")
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
