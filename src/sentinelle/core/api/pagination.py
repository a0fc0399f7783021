"""The API's paging: DRF's limit and offset, but a value that is no count is refused.

DRF's own class reads `offset=null` or `limit=-5` as "no value" and pages from the start: a
client with a bug in its paging loop then reads the first page forever instead of learning of
the bug. Here such a request is a 400 naming the parameter, and the schema says the bounds
(issue 19)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import exceptions, pagination

# Python's int() takes any length; a count longer than this is nonsense, not a page.
_MAX_DIGITS = 18


def _count(request, name: str, minimum: int) -> int | None:
    if name not in request.query_params:
        return None
    values = request.query_params.getlist(name)
    text = values[0] if len(values) == 1 else ""
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS
            and int(text) >= minimum):
        raise exceptions.ValidationError({name: [
            _("Give a whole number of at least %(minimum)s, once.") % {"minimum": minimum}]})
    return int(text)


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """settings.REST_FRAMEWORK's paging: `limit` ≥ 1 (50 when left out), `offset` ≥ 0."""

    def get_limit(self, request) -> int:
        limit = _count(request, self.limit_query_param, 1)
        if limit is None:
            return self.default_limit
        return min(limit, self.max_limit) if self.max_limit else limit

    def get_offset(self, request) -> int:
        return _count(request, self.offset_query_param, 0) or 0

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: 1, self.offset_query_param: 0}
        for parameter in parameters:
            parameter["schema"].update(minimum=bounds[parameter["name"]],
                                       maximum=10**_MAX_DIGITS - 1)
        return parameters
