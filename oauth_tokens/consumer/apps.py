from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class ConsumerConfig(AppConfig):
    name = "oauth_tokens.consumer"
    label = "oauth_tokens_consumer"
    verbose_name = "OAuth tokens (consumer)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from oauth_tokens.consumer import checks, redaction  # noqa: F401  (checks registers itself)
        from oauth_tokens.consumer.receivers import revoke_on_logout
        from oauth_tokens.settings import token_settings

        user_logged_out.connect(revoke_on_logout, dispatch_uid="oauth_tokens_consumer.revoke_on_logout")
        try:
            redact = token_settings.CONSUMER_REDACT_LOGS
        except ImproperlyConfigured:
            redact = True  # the system check reports the bad setting
        if redact:
            redaction.install()
