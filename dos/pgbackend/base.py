"""Django's PostgreSQL backend with one difference: GROUP BY on a tenant model lists every selected
column instead of the model's pk alone.

Django shortens ``GROUP BY`` to the primary key when PostgreSQL can infer the other columns from it.
A tenant model's pk is ``id`` but its table's primary key is ``(org_id, id)``
(docs/decisions/0011-citus-ready-schema.md), so PostgreSQL would refuse ``GROUP BY id`` alone
("must appear in the GROUP BY clause"). Tables whose database key is the model's pk keep the
shortening.
"""

from django.db.backends.postgresql import base, features


class DatabaseFeatures(features.DatabaseFeatures):
    def allows_group_by_selected_pks_on_model(self, model):
        # Imported here: dos.citus stands on the ORM (dos.rls), which loads this backend.
        from dos.citus import keyed_by_org

        return not keyed_by_org(model) and super().allows_group_by_selected_pks_on_model(model)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
