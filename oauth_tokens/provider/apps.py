from django.apps import AppConfig


class ProviderConfig(AppConfig):
    name = "oauth_tokens.provider"
    label = "oauth_tokens_provider"
    verbose_name = "OAuth tokens (provider)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from oauth_tokens.provider import (
            checks,  # noqa: F401  (registers system checks)
            local_verifier,
            metrics,
            metrics_endpoint,  # noqa: F401  (registers the metrics' system checks)
            receivers,
            token_exchange,  # noqa: F401  (registers the token exchange's system check)
        )

        local_verifier.register()  # the resource side of this project verifies with our keys
        receivers.connect()  # deactivation, password change, logout, deletion revoke tokens
        metrics.configure()  # counters and the token endpoint's timing, when METRICS_ENABLED
