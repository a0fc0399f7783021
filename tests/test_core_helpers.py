"""Issue 18, step 2: the helpers every app shares live in the core, one copy each."""

from __future__ import annotations

import pytest
from django import forms
from django.core.exceptions import ValidationError

from sentinelle.core.forms import add_validation_error
from sentinelle.core.storage import spooled_response


class _TitleForm(forms.Form):
    title = forms.CharField()


def _bound() -> _TitleForm:
    form = _TitleForm({"title": "x"})
    assert form.is_valid()
    return form


def test_a_services_field_error_lands_on_the_field_it_names():
    form = _bound()
    add_validation_error(form, ValidationError({"title": "Taken.", "owner": "Not yours."}))
    assert form.errors["title"] == ["Taken."]
    # A field this form does not show: the error is still shown, above the form.
    assert form.non_field_errors() == ["Not yours."]


def test_an_error_naming_no_field_is_shown_above_the_form():
    form = _bound()
    add_validation_error(form, ValidationError(["First.", "Second."]))
    assert form.non_field_errors() == ["First.", "Second."]
    assert "title" not in form.errors


def test_a_spooled_download_sends_what_was_written_as_an_attachment():
    response = spooled_response(lambda stream: stream.write(b"a,b\n1,2\n"),
                                filename="export.csv", content_type="text/csv")
    assert b"".join(response.streaming_content) == b"a,b\n1,2\n"
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="export.csv"'


def test_a_writer_that_fails_leaves_no_spool_open():
    seen = []

    def write(stream):
        seen.append(stream)
        stream.write(b"half")
        raise RuntimeError("exporter failed")

    with pytest.raises(RuntimeError):
        spooled_response(write, filename="export.csv", content_type="text/csv")
    assert seen[0].closed
