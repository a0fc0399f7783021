"""Serializer fields stricter than DRF's, so that the API takes what its schema says."""

from __future__ import annotations

from rest_framework import serializers


class StrictBooleanField(serializers.BooleanField):
    """A boolean: JSON true or false, or in a form part the text "true" or "false".

    DRF's own also takes 1, 0, "1", "0", "yes", "on", "t"…: a client sending `"0"` where
    the schema says boolean would not learn that a stricter consumer refuses it, and `"off"`
    meaning true in some other tool is a trap. Any other value is a 400 naming the field."""

    TRUE_VALUES = {True, "true", "True"}
    FALSE_VALUES = {False, "false", "False"}
    NULL_VALUES = set()

    def to_internal_value(self, data):
        # Checked by type first: 0 == False and 1 == True, so DRF's sets would take them.
        if not isinstance(data, bool | str):
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """Text: a JSON string. DRF's own turns a JSON number into text (`0` becomes "0"), so a
    client that sends the wrong type never hears of it; here that is a 400 naming the field.

    ``max_length`` counts the characters sent, as the schema's maxLength does: DRF counts them
    after trimming, so a value padded past the bound was stored although the schema refuses it
    (Schemathesis sent U+0085 and ten characters to a ten-character field)."""

    def run_validation(self, data=serializers.empty):
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().run_validation(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not true (DRF reads it as 1), not "12" (a string in JSON)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A JSON number: not false (DRF reads it as 0.0), not "1.5"."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)
