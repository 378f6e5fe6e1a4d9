"""Views exercising the resource side, mounted next to the example project's URLs."""

from django.http import JsonResponse
from django.urls import path
from django.views import View
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from example_project.urls import urlpatterns as example_urlpatterns
from oauth_tokens.resource.decorators import BearerTokenRequiredMixin, bearer_required
from oauth_tokens.resource.permissions import HasAnyScope, HasScope, ReadWriteScope


class TokenOnly(APIView):
    permission_classes = [IsAuthenticated, HasScope]
    required_scopes = ["read"]

    def get(self, request):
        return Response({"scope": request.auth.scope, "client_id": request.auth.client_id,
                         "authenticated": request.user.is_authenticated})


class WhoAmI(APIView):
    permission_classes = [HasScope]
    required_scopes = ["read"]

    def get(self, request):
        return Response({"username": request.user.get_username(), "user_id": request.user.pk})


class AnyScope(APIView):
    permission_classes = [HasAnyScope]
    required_scopes = ["admin", "write"]

    def get(self, request):
        return Response({"ok": True})


class Orders(APIView):
    permission_classes = [ReadWriteScope.using("orders:read", "orders:write")]

    def get(self, request):
        return Response({"orders": []})

    def post(self, request):
        return Response({"created": True, "data": dict(request.data)}, status=201)


class DefaultReadWrite(APIView):
    permission_classes = [ReadWriteScope]

    def get(self, request):
        return Response({"read": True})

    def delete(self, request):
        return Response(status=204)


class NoScopesDeclared(APIView):
    permission_classes = [HasScope]

    def get(self, request):  # pragma: no cover - never reached
        return Response({})


@bearer_required(scopes=["read"])
def plain(request):
    return JsonResponse({"client_id": request.auth.client_id, "scope": request.auth.scope})


@bearer_required
def plain_user(request):
    return JsonResponse({"username": request.user.get_username()})


class PlainView(BearerTokenRequiredMixin, View):
    required_scopes = ["write"]

    def get(self, request):
        return JsonResponse({"sub": request.auth.subject})

    def post(self, request):
        return JsonResponse({"posted": True})


@bearer_required(scopes=["read"])
async def async_plain(request):
    return JsonResponse({"client_id": request.auth.client_id, "scope": request.auth.scope})


@bearer_required
async def async_plain_user(request):
    user = await request.auser()
    return JsonResponse({"username": user.get_username()})


class AsyncPlainView(BearerTokenRequiredMixin, View):
    required_scopes = ["write"]

    async def get(self, request):
        return JsonResponse({"sub": request.auth.subject})

    async def post(self, request):
        return JsonResponse({"posted": True})


class Binding(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"dpop_jkt": request.auth.dpop_jkt, "bound": request.auth.is_dpop_bound})

    def post(self, request):
        return Response({"posted": True, "dpop_jkt": request.auth.dpop_jkt})


urlpatterns = [
    *example_urlpatterns,
    path("t/binding", Binding.as_view()),
    path("t/token-only", TokenOnly.as_view()),
    path("t/whoami", WhoAmI.as_view()),
    path("t/any", AnyScope.as_view()),
    path("t/orders", Orders.as_view()),
    path("t/rw", DefaultReadWrite.as_view()),
    path("t/undeclared", NoScopesDeclared.as_view()),
    path("t/plain", plain),
    path("t/plain-user", plain_user),
    path("t/plain-cbv", PlainView.as_view()),
    path("t/async-plain", async_plain),
    path("t/async-plain-user", async_plain_user),
    path("t/async-plain-cbv", AsyncPlainView.as_view()),
]
