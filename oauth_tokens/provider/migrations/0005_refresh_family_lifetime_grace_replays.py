# Refresh token families end, and grace replays are counted (issue 10, Low 3 and 4).
#
# - RefreshToken.family_started_at: when the family began (its code exchange),
#   copied to every successor; the family lifetime counts from it. Existing rows
#   get their family's oldest created_at (a live family keeps all its rows:
#   cleartokens deletes a family only when every token of it has expired), and
#   the expiry of each is capped at that start plus REFRESH_TOKEN_FAMILY_LIFETIME
#   as configured when this migration runs (to phase the limit in, set a longer
#   lifetime before migrating).
# - RefreshToken.grace_replays: how many times a rotation's pair was handed out
#   again inside the grace window (a conditional UPDATE caps it).
# - Client.refresh_family_lifetime and Client.refresh_grace_period: per-client
#   overrides (empty = the settings).
# - TokenEvent kind "grace_replayed".

from datetime import timedelta

from django.db import migrations, models
from django.db.models import Case, DateTimeField, F, Min, Value, When
from django.db.models.functions import Least

import oauth_tokens.provider.models

BATCH = 500


def backfill_family_start(apps, schema_editor):
    from oauth_tokens.settings import token_settings

    RefreshToken = apps.get_model("oauth_tokens_provider", "RefreshToken")
    rows = RefreshToken.objects.using(schema_editor.connection.alias)
    lifetime = timedelta(seconds=int(token_settings.REFRESH_TOKEN_FAMILY_LIFETIME))
    starts = list(rows.values_list("family").annotate(start=Min("created_at")).order_by("family"))
    for offset in range(0, len(starts), BATCH):
        batch = starts[offset:offset + BATCH]
        rows.filter(family__in=[family for family, _ in batch]).update(
            family_started_at=Case(*(When(family=family, then=Value(start)) for family, start in batch),
                                   output_field=DateTimeField()),
            expires_at=Least(
                F("expires_at"),
                Case(*(When(family=family, then=Value(start + lifetime)) for family, start in batch),
                     output_field=DateTimeField()),
            ),
        )


class Migration(migrations.Migration):

    dependencies = [
        ("oauth_tokens_provider", "0004_revoked_index_outside_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="client",
            name="refresh_family_lifetime",
            field=models.PositiveIntegerField(blank=True, help_text="Absolute lifetime of a grant's refresh tokens, in seconds from the code exchange: no rotation outlives it. Empty uses OAUTH_TOKENS['REFRESH_TOKEN_FAMILY_LIFETIME'].", null=True),
        ),
        migrations.AddField(
            model_name="client",
            name="refresh_grace_period",
            field=models.PositiveIntegerField(blank=True, help_text="Seconds during which a retry with the previous refresh token gets the same pair again; 0 turns it off. Empty uses OAUTH_TOKENS['REFRESH_TOKEN_GRACE_PERIOD'] (confidential clients) or OAUTH_TOKENS['REFRESH_TOKEN_GRACE_PERIOD_PUBLIC'] (public clients, 0 unless set).", null=True),
        ),
        migrations.AlterField(
            model_name="client",
            name="refresh_token_lifetime",
            field=models.PositiveIntegerField(blank=True, help_text="Idle lifetime of a refresh token, in seconds: each rotation gives the new token this long. Empty uses OAUTH_TOKENS['REFRESH_TOKEN_LIFETIME'].", null=True),
        ),
        # Nullable first (no table rewrite, no throwaway default), filled, then required.
        migrations.AddField(
            model_name="refreshtoken",
            name="family_started_at",
            field=models.DateTimeField(null=True, editable=False),
        ),
        migrations.RunPython(backfill_family_start, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="refreshtoken",
            name="family_started_at",
            field=models.DateTimeField(default=oauth_tokens.provider.models.now, editable=False),
        ),
        migrations.AddField(
            model_name="refreshtoken",
            name="grace_replays",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AlterField(
            model_name="tokenevent",
            name="kind",
            field=models.CharField(choices=[("issued", "Tokens issued"), ("refreshed", "Refresh token rotated"), ("reuse_detected", "Refresh token reuse detected: family revoked"), ("grace_replayed", "Rotated refresh token replayed in the grace window: same pair returned"), ("code_replayed", "Authorization code replayed: tokens revoked"), ("revoked", "Tokens revoked"), ("client_auth_failed", "Client authentication failed")], db_index=True, max_length=32),
        ),
    ]
