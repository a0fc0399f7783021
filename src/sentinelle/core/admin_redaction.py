"""The admin's deletion pages name related rows by type and number only.

Django's confirmation page lists every row a deletion would take along, or that protects the
object, by its ``str()``: a shared indicator's value, an evidence file's name, a message's
text. Those rows belong to a State and follow the TLP table, which that page never asks, so an
administrator opening "delete" on an account would read another State's RED indicator.
"""

from __future__ import annotations

from django.contrib.admin.utils import NestedObjects
from django.db import router
from django.utils.text import capfirst


def row_label(obj) -> str:
    return f"{capfirst(obj._meta.verbose_name)} #{obj.pk}"


class RedactedDeletionMixin:
    def get_deleted_objects(self, objs, request):
        # Django's own pass decides the permissions and counts; only its labels are replaced.
        _named, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        objs = list(objs)
        if not objs:
            return [], model_count, perms_needed, protected
        collector = NestedObjects(using=router.db_for_write(objs[0]._meta.model), origin=objs)
        collector.collect(objs)
        return (collector.nested(row_label), model_count, perms_needed,
                [row_label(obj) for obj in collector.protected])
