from __future__ import annotations

from django import forms

from .enums import Delivery, Kind


class PreferencesForm(forms.Form):
    """One choice per kind of event: immediately, daily digest, or off."""

    def __init__(self, *args, initial_deliveries: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        for kind in Kind:
            self.fields[kind.value] = forms.ChoiceField(
                label=kind.label,
                choices=Delivery.choices,
                initial=initial_deliveries[kind.value],
                widget=forms.RadioSelect,
            )
