"""A strict Content-Security-Policy on the pages that promise to work under one
(the admin page "Token activity"): only the site's own scripts, styles and
images; no inline script, no inline style. The browser test reads the
violations in the browser's console."""

from __future__ import annotations

STRICT = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'"
PATHS = ("/admin/oauth_tokens_provider/activity/",)


class StrictContentSecurityPolicy:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(PATHS):
            response["Content-Security-Policy"] = STRICT
        return response
