"""The device verification page (RFC 8628 section 3.3): ``GET/POST /oauth/device``.

Signed-in users only. GET shows a form for the user code (pre-filled from
``verification_uri_complete``'s ``user_code``); posting it shows the consent
page for that device's client and scopes, the code repeated so the user can
compare it with the device (section 5.4); that form posts the code back with
a button named ``allow`` or ``deny``. CSRF-protected by ``browser_view``
itself, like the authorization endpoint.

Wrong codes are throttled (section 5.1): per user and per address in the cache
(``throttle``), and per session in the session, which still holds when the
cache is down. Past the budget every code is refused, right or wrong, with a
429 page that says when to try again. Templates: ``oauth_tokens/device.html``
(the form), ``device_consent.html`` and ``device_done.html``; a project
overrides them by name.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotFound
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.debug import sensitive_post_parameters

from oauth_tokens.browser import browser_view
from oauth_tokens.oauth2 import device, scopes
from oauth_tokens.provider import device_codes, models, throttle
from oauth_tokens.provider.models import DeviceCode
from oauth_tokens.provider.views import client_ip
from oauth_tokens.settings import token_settings

ENTRY_TEMPLATE = "oauth_tokens/device.html"
CONSENT_TEMPLATE = "oauth_tokens/device_consent.html"
DONE_TEMPLATE = "oauth_tokens/device_done.html"
SESSION_KEY = "oauth_tokens_device_failures"
#: Longest user code input read: a code is 8 letters, a dash and maybe spaces.
MAX_INPUT = 32

WRONG = "That code is not valid. Check the code shown on your device and try again."
EXPIRED = "That code has expired. Start again on your device to get a new one."
DECIDED = "That code has already been used. Start again on your device if you need a new one."


def _error_page(request: HttpRequest, message: str, *args: Any, **kwargs: Any) -> HttpResponse:
    return render(request, ENTRY_TEMPLATE, {"error": message, "user_code": ""}, status=400)


def _session_failures(request: HttpRequest) -> int:
    count, since = request.session.get(SESSION_KEY, (0, 0.0))
    if models.now().timestamp() - since > float(token_settings.DEVICE_USER_CODE_FAILURE_WINDOW):
        return 0
    return int(count)


def _blocked(request: HttpRequest) -> bool:
    limit = int(token_settings.DEVICE_USER_CODE_FAILURE_LIMIT)
    if limit > 0 and _session_failures(request) >= limit:
        return True
    return throttle.user_code_blocked(str(request.user.pk), client_ip(request))


def _count_failure(request: HttpRequest) -> None:
    count = _session_failures(request)
    since = request.session.get(SESSION_KEY, (0, 0.0))[1] if count else models.now().timestamp()
    request.session[SESSION_KEY] = (count + 1, since)
    throttle.user_code_failure(str(request.user.pk), client_ip(request))


@method_decorator(never_cache, name="dispatch")
@method_decorator(browser_view(_error_page), name="dispatch")
@method_decorator(xframe_options_deny, name="dispatch")
@method_decorator(sensitive_post_parameters("user_code"), name="dispatch")
class DeviceView(View):
    http_method_names = ["get", "post"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if (request.method or "").lower() not in self.http_method_names:
            return self.http_method_not_allowed(request, *args, **kwargs)
        if not device_codes.enabled():
            # Answered, not raised: never_cache then marks it no-store like every other answer.
            return HttpResponseNotFound("The device authorization grant is not enabled.", content_type="text/plain")
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.entry_page(request, request.GET.get("user_code", "")[:MAX_INPUT])

    def post(self, request: HttpRequest) -> HttpResponse:
        typed = request.POST.get("user_code", "")[:MAX_INPUT]
        if _blocked(request):
            minutes = max(1, round(float(token_settings.DEVICE_USER_CODE_FAILURE_WINDOW) / 60))
            return self.entry_page(request, typed, f"Too many wrong codes. Try again in {minutes} minute(s).",
                                   status=429)
        code = device_codes.lookup_user_code(typed)
        if code is None:
            _count_failure(request)
            return self.entry_page(request, typed, WRONG, status=400)
        problem = self.problem(code)
        if problem:
            return self.entry_page(request, "", problem, status=400)
        allow, deny = "allow" in request.POST, "deny" in request.POST
        if not allow and not deny:
            return self.consent_page(request, code)
        if allow and deny:
            return self.entry_page(request, "", "Choose allow or deny.", status=400)
        if not device_codes.decide(code, request.user, approve=allow):
            code.refresh_from_db()
            return self.entry_page(request, "", self.problem(code) or DECIDED, status=400)
        return render(request, DONE_TEMPLATE, {"client": code.client, "approved": allow})

    def problem(self, code: DeviceCode) -> str:
        if code.status != DeviceCode.PENDING:
            return DECIDED
        if code.expires_at <= models.now():
            return EXPIRED
        return ""

    def entry_page(self, request: HttpRequest, typed: str, error: str = "", *, status: int = 200) -> HttpResponse:
        return render(request, ENTRY_TEMPLATE, {"user_code": typed, "error": error}, status=status)

    def consent_page(self, request: HttpRequest, code: DeviceCode) -> HttpResponse:
        known = token_settings.SCOPES
        context = {
            "client": code.client,
            "scopes": [(s, known.get(s, s)) for s in scopes.parse(code.scope)],
            "user_code": device.display(device.normalize_user_code(request.POST["user_code"]) or ""),
            "resources": code.resources.split(),  # RFC 8707: the services the tokens will be for
        }
        return render(request, CONSENT_TEMPLATE, context)
