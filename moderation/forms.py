from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .enums import ReportReason


class ReportForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Why should moderators look at this?"),
        choices=ReportReason.choices,
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label=_("Details (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 1000}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional, shown to the author)"),
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"maxlength": 500}),
    )
