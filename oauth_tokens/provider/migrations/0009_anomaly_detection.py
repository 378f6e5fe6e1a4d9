# Anomaly detection (issue 13): the usage history on refresh tokens, and the refresh_failed and anomaly events.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('oauth_tokens_provider', '0008_token_activity_dashboard'),
    ]

    operations = [
        migrations.AddField(
            model_name='refreshtoken',
            name='usage',
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
    ]
