from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from .models import User


@transaction.atomic
def update_profile(
    *,
    user: User,
    display_name: str,
    bio: str,
    language: str = "",
    avatar: UploadedFile | None = None,
    remove_avatar: bool = False,
) -> User:
    user.display_name = display_name
    user.bio = bio
    user.language = language
    fields = ["display_name", "bio", "language"]
    if remove_avatar and user.avatar:
        old = user.avatar.name
        user.avatar = ""
        fields.append("avatar")
        transaction.on_commit(lambda: user.avatar.storage.delete(old))
    elif avatar is not None:
        # From the row: the profile form has already put the new file on `user`.
        replaced = User.objects.filter(pk=user.pk).values_list("avatar", flat=True).get()
        user.avatar.save(avatar.name, avatar, save=False)
        fields.append("avatar")
        if replaced:  # the old file would stay on disk (and public under /media/) forever
            storage = user.avatar.storage
            transaction.on_commit(lambda: storage.delete(replaced))
    user.save(update_fields=fields)
    return user


@transaction.atomic
def verify_email_by_password_reset(*, user: User) -> None:
    """A password reset completed from the emailed link proves the address is the user's.

    This is how a legacy account is claimed: an admin links the person's email to it, the
    person asks for a password reset, and from then on logs in like anyone else.
    """
    if not user.email:
        return
    from allauth.account.models import EmailAddress

    address, created = EmailAddress.objects.get_or_create(
        user=user, email__iexact=user.email, defaults={"email": user.email, "primary": True}
    )
    if not address.verified:
        address.verified = True
        address.save(update_fields=["verified"])
