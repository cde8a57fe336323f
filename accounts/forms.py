from __future__ import annotations

from io import BytesIO

from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from .models import (
    TAKEN_NAME,
    User,
    display_name_looks_taken,
    display_name_validator,
    validate_display_name_characters,
)

AVATAR_SIZE = 256
AVATAR_MAX_BYTES = 5 * 1024 * 1024
# Checked from the header, before any pixel is decoded (an image bomb is small on disk).
AVATAR_MAX_SIDE = 4096


class DisplayNameField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Display name"))
        kwargs.setdefault("min_length", 2)
        kwargs.setdefault("max_length", 30)
        kwargs.setdefault("validators", [display_name_validator, validate_display_name_characters])
        kwargs.setdefault(
            "help_text", _("How others see you, 2–30 characters. Chinese is welcome.")
        )
        super().__init__(**kwargs)


class SignupForm(forms.Form):
    """Extra fields for allauth's sign-up form (ACCOUNT_SIGNUP_FORM_CLASS)."""

    display_name = DisplayNameField()

    def clean_display_name(self):
        name = self.cleaned_data["display_name"]
        if display_name_looks_taken(name):
            raise forms.ValidationError(TAKEN_NAME)
        return name

    def signup(self, request, user):
        # The adapter already stored the display name before the first save.
        pass


def resize_avatar(upload) -> SimpleUploadedFile:
    """Square-crop and shrink an uploaded image to AVATAR_SIZE, re-encoded (drops metadata)."""
    try:
        upload.seek(0)
        image = Image.open(upload)  # reads the header only: the size is known, nothing decoded
        if image.width > AVATAR_MAX_SIDE or image.height > AVATAR_MAX_SIDE:
            # A 20 KB PNG can claim 13000×13000 pixels: decoding it took 12 s and 1.4 GB.
            raise forms.ValidationError(
                _("The image is too large: at most %(side)d×%(side)d pixels.")
                % {"side": AVATAR_MAX_SIDE}
            )
        image.draft("RGB", (AVATAR_SIZE * 2, AVATAR_SIZE * 2))  # JPEG: decode at a fraction
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise forms.ValidationError(_("Upload a valid image (PNG, JPEG, GIF or WebP).")) from exc
    image = image.convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize(
        (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS
    )
    out = BytesIO()
    image.save(out, format="JPEG", quality=88)
    return SimpleUploadedFile("avatar.jpg", out.getvalue(), content_type="image/jpeg")


class ProfileForm(forms.ModelForm):
    display_name = DisplayNameField()
    avatar = forms.ImageField(label=_("Avatar"), required=False)
    remove_avatar = forms.BooleanField(label=_("Remove my avatar"), required=False)

    class Meta:
        model = User
        fields = ["display_name", "bio", "avatar", "language"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 4, "maxlength": 500})}

    def clean_display_name(self):
        name = self.cleaned_data["display_name"]
        if display_name_looks_taken(name, exclude_pk=self.instance.pk):
            raise forms.ValidationError(TAKEN_NAME)
        return name

    def clean_avatar(self):
        upload = self.cleaned_data.get("avatar")
        if not upload or upload == self.instance.avatar:
            return upload
        if upload.size > AVATAR_MAX_BYTES:
            raise forms.ValidationError(_("The image is larger than 5 MB."))
        return resize_avatar(upload)
