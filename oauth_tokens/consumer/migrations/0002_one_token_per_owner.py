# One external token per (provider, user), and one client_credentials token per
# provider, on every database.
#
# 0001 expressed this with two partial unique constraints, which MariaDB / MySQL
# never create (models.W036): there, two rows for the same provider and user (or
# two client_credentials rows) could be stored, and the single-flight refresh
# would then lock one row while a sibling refreshes the other. ``owner`` is
# computed by the database from ``user`` (the user's id as text, "" for the
# client_credentials row) and a plain unique constraint on (provider, owner)
# holds everywhere.
#
# Duplicates such a database may already hold are resolved first: the row kept
# is the usable one (active, with an access token) that was written last; the
# others are deleted. Their tokens are not revoked at the provider (a migration
# makes no network calls); a user who lost a row this way reconnects at worst.

from django.db import migrations, models
from django.db.models.functions import Cast, Coalesce


def keep_one_row_per_owner(apps, schema_editor):
    ExternalToken = apps.get_model("oauth_tokens_consumer", "ExternalToken")
    rows = ExternalToken.objects.using(schema_editor.connection.alias)
    with_token = set(rows.exclude(access_token="").values_list("pk", flat=True))  # read, never decrypted

    def preference(row):
        pk, _provider, _user_id, status, updated_at = row
        return (status == "active" and pk in with_token, updated_at.timestamp() if updated_at else 0.0, pk)

    kept, doomed = {}, []
    for row in rows.values_list("pk", "provider", "user_id", "status", "updated_at"):
        key = (row[1], row[2])
        best = kept.get(key)
        if best is None or preference(row) > preference(best):
            kept[key] = row
            row = best
        if row is not None:
            doomed.append(row[0])
    for start in range(0, len(doomed), 500):
        rows.filter(pk__in=doomed[start:start + 500]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("oauth_tokens_consumer", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(keep_one_row_per_owner, migrations.RunPython.noop, elidable=True),
        migrations.RemoveConstraint(
            model_name="externaltoken",
            name="oauth_tokens_consumer_one_per_user",
        ),
        migrations.RemoveConstraint(
            model_name="externaltoken",
            name="oauth_tokens_consumer_one_client_token",
        ),
        migrations.AddField(
            model_name="externaltoken",
            name="owner",
            field=models.GeneratedField(
                db_persist=True,
                expression=Coalesce(Cast("user", models.CharField(max_length=255)), models.Value("")),
                output_field=models.CharField(max_length=255),
            ),
        ),
        migrations.AddConstraint(
            model_name="externaltoken",
            constraint=models.UniqueConstraint(fields=("provider", "owner"), name="oauth_tokens_consumer_one_per_owner"),
        ),
    ]
