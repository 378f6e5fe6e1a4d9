"""Views that require, or refuse, delegated tokens (RFC 8693 ``act``), next to the example project's URLs."""

from django.http import JsonResponse
from django.urls import path
from django.views import View
from rest_framework.response import Response
from rest_framework.views import APIView

from example_project.urls import urlpatterns as example_urlpatterns
from oauth_tokens.resource.decorators import BearerTokenRequiredMixin, bearer_required
from oauth_tokens.resource.permissions import HasScope, IsDelegated, NotDelegated


def chain_of(token) -> dict:
    return {"actor": token.actor, "chain": list(token.delegation_chain), "delegated": token.is_delegated}


class AgentsOnly(APIView):
    permission_classes = [HasScope, IsDelegated]
    required_scopes = ["read"]

    def get(self, request):
        return Response(chain_of(request.auth))


class OwnerOnly(APIView):
    permission_classes = [HasScope, NotDelegated]
    required_scopes = ["read"]

    def get(self, request):
        return Response(chain_of(request.auth))


@bearer_required(scopes=["read"], delegated=True)
def plain_agents(request):
    return JsonResponse(chain_of(request.auth))


class PlainOwner(BearerTokenRequiredMixin, View):
    required_scopes = ["read"]
    delegated = False

    def get(self, request):
        return JsonResponse(chain_of(request.auth))


urlpatterns = [
    *example_urlpatterns,
    path("t/agents", AgentsOnly.as_view()),
    path("t/owner", OwnerOnly.as_view()),
    path("t/plain-agents", plain_agents),
    path("t/plain-owner", PlainOwner.as_view()),
]
