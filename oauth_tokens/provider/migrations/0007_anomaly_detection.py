# Anomaly detection (issue 13): the usage history on refresh tokens, and the refresh_failed and anomaly events.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('oauth_tokens_provider', '0006_client_auth_failures_event'),
    ]

    operations = [
        migrations.AddField(
            model_name='refreshtoken',
            name='usage',
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='tokenevent',
            name='kind',
            field=models.CharField(choices=[('issued', 'Tokens issued'), ('refreshed', 'Refresh token rotated'), ('reuse_detected', 'Refresh token reuse detected: family revoked'), ('grace_replayed', 'Rotated refresh token replayed in the grace window: same pair returned'), ('code_replayed', 'Authorization code replayed: tokens revoked'), ('revoked', 'Tokens revoked'), ('client_auth_failed', 'Client authentication failed'), ('client_auth_failures', 'Repeated client authentication failures (alert)'), ('refresh_failed', 'Refresh refused (invalid_grant)'), ('anomaly', 'Anomaly detected')], db_index=True, max_length=32),
        ),
    ]
