# "oauth_at_revoked_idx" (created by 0002) stays in the database but leaves the
# model state: its condition (revoked_at IS NOT NULL) cannot exist on MariaDB,
# where Django skips creating it, and a conditional index in the model's Meta
# makes every `manage.py check` there warn (models.W037) about something the
# project cannot act on. Nothing changes in the database.
#
# A later migration that rebuilds the accesstoken table on SQLite (an altered
# field) must re-create the index: tests/provider/test_indexes.py fails otherwise.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("oauth_tokens_provider", "0003_leaner_token_writes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveIndex(model_name="accesstoken", name="oauth_at_revoked_idx")],
        ),
    ]
