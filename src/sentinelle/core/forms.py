from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from sentinelle.core import signin


def add_validation_error(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form that called it: each error on the field it
    names, and on the form itself when it names none or a field this form does not have
    (Form.add_error would raise for those)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class SentLengthCharField(forms.CharField):
    """Text whose ``max_length`` counts the characters sent, before stripping: the API schema's
    maxLength says so of a query parameter, and Django would count after stripping (a value
    padded past the bound was taken although the schema refuses it)."""

    def to_python(self, value):
        if isinstance(value, str) and self.max_length is not None:
            MaxLengthValidator(self.max_length)(value)
        return super().to_python(value)


def posted_text(request, name: str) -> str:
    """``request.POST[name]`` (or ""), for a view that reads a text without a form: a NUL, which
    a form field refuses and PostgreSQL cannot store (a 500 there), is a ValidationError."""
    value = request.POST.get(name, "")
    if "\x00" in value:
        raise ValidationError(_("The NUL character (U+0000) is not allowed here."))
    return value


def client_address(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


class SignInForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed sign-ins. Try again in a few minutes."),
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if username and signin.is_locked(username):
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        try:
            return super().clean()
        except forms.ValidationError:
            if username:
                signin.record_failure(username, client_address(self.request), "password")
            raise


class TokenCodeForm(forms.Form):
    code = forms.CharField(label=_("Six-digit code from your authenticator app"),
                           max_length=8, widget=forms.TextInput(attrs={
                               "autocomplete": "one-time-code", "inputmode": "numeric",
                               "autofocus": True}))

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip().replace(" ", "")
        if not code.isdigit():
            raise forms.ValidationError(_("The code must contain only digits."))
        return code


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False,
                           help_text=_("What the token is for, e.g. “SIEM export”."))
    read_only = forms.BooleanField(label=_("Read-only"), required=False)
    expires_days = forms.IntegerField(label=_("Expires after (days)"), min_value=1,
                                      max_value=3650, required=False)
