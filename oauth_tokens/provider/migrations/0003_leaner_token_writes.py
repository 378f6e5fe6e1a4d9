# Leaner token writes: the requester's address on access token rows, time-ordered
# family ids, and fewer indexes to maintain per token (no LIKE-pattern index on
# digest/jti, no single-column client index beside (client, user)).
#
# On PostgreSQL the unique constraints are renamed in place (instant) rather than
# dropped and rebuilt: rebuilding a unique index on a table of millions of tokens
# would hold an exclusive lock on it, and stop the token endpoint, for minutes.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.migrations.operations.base import Operation

import oauth_tokens.crypto

#: (model, field, the constraint's name in the new state)
UNIQUE = [("accesstoken", "jti", "oauth_at_jti_unique"), ("refreshtoken", "digest", "oauth_rt_digest_unique")]


class UnlessPostgreSQL(Operation):
    """The database side of ``operations``, except on PostgreSQL (where RunPython
    below does the same in place); the state is left to SeparateDatabaseAndState."""

    reversible = True

    def __init__(self, operations):
        self.operations = operations

    def deconstruct(self):
        return self.__class__.__name__, [self.operations], {}

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return
        for operation in self.operations:
            state = from_state.clone()
            operation.state_forwards(app_label, state)
            operation.database_forwards(app_label, schema_editor, from_state, state)
            from_state = state

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return
        states = [to_state]
        for operation in self.operations[:-1]:
            state = states[-1].clone()
            operation.state_forwards(app_label, state)
            states.append(state)
        after = from_state
        for operation, before in zip(reversed(self.operations), reversed(states)):
            operation.database_backwards(app_label, schema_editor, after, before)
            after = before

    def describe(self):
        return "Unique constraints on jti and digest (outside PostgreSQL)"


def _constraints(schema_editor, table):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


def rename_in_place(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for model_name, field, new_name in UNIQUE:
        model = apps.get_model("oauth_tokens_provider", model_name)
        table, column = model._meta.db_table, model._meta.get_field(field).column
        for name, info in _constraints(schema_editor, table).items():
            if info["columns"] != [column] or info["primary_key"]:
                continue
            if info["unique"] and name != new_name:
                schema_editor.execute(f"ALTER TABLE {quote(table)} RENAME CONSTRAINT {quote(name)} TO {quote(new_name)}")
            elif not info["unique"] and name.endswith("_like"):
                schema_editor.execute(f"DROP INDEX {quote(name)}")


#: The names Django gave these indexes in 0001 (``<table>_<column>_<hash>_uniq``
#: and ``_like``), for going back: written out, as they are fixed for these tables.
ORIGINAL_NAMES = {
    "oauth_at_jti_unique": "oauth_tokens_provider_accesstoken_jti_212c264f",
    "oauth_rt_digest_unique": "oauth_tokens_provider_refreshtoken_digest_c7418d66",
}


def restore_in_place(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for model_name, field_name, new_name in UNIQUE:
        model = apps.get_model("oauth_tokens_provider", model_name)
        table, column = model._meta.db_table, model._meta.get_field(field_name).column
        original = ORIGINAL_NAMES[new_name]
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} RENAME CONSTRAINT {quote(new_name)} TO {quote(original + '_uniq')}"
        )
        schema_editor.execute(
            f"CREATE INDEX {quote(original + '_like')} ON {quote(table)} ({quote(column)} varchar_pattern_ops)"
        )


def unique_constraints():
    """unique=True on each UNIQUE field becomes a named UniqueConstraint."""
    operations = []
    for model_name, field, name in UNIQUE:
        operations.append(migrations.AlterField(
            model_name=model_name, name=field, field=models.CharField(editable=False, max_length=64)
        ))
    for model_name, field, name in UNIQUE:
        operations.append(migrations.AddConstraint(
            model_name=model_name, constraint=models.UniqueConstraint(fields=(field,), name=name)
        ))
    return operations


class Migration(migrations.Migration):
    dependencies = [
        ("oauth_tokens_provider", "0002_revocation_state"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="accesstoken",
            name="ip_address",
            field=models.GenericIPAddressField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="accesstoken",
            name="client",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="access_tokens",
                to="oauth_tokens_provider.client",
            ),
        ),
        migrations.AlterField(
            model_name="refreshtoken",
            name="client",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="refresh_tokens",
                to="oauth_tokens_provider.client",
            ),
        ),
        # A Python-side default: nothing changes in the database.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="authorizationcode",
                    name="family",
                    field=models.UUIDField(default=oauth_tokens.crypto.time_ordered_uuid, editable=False),
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=unique_constraints(),
            database_operations=[
                UnlessPostgreSQL(unique_constraints()),
                migrations.RunPython(rename_in_place, restore_in_place),
            ],
        ),
    ]
