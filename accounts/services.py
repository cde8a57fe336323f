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
    avatar: UploadedFile | None = None,
    remove_avatar: bool = False,
) -> User:
    user.display_name = display_name
    user.bio = bio
    fields = ["display_name", "bio"]
    if remove_avatar and user.avatar:
        old = user.avatar.name
        user.avatar = ""
        fields.append("avatar")
        transaction.on_commit(lambda: user.avatar.storage.delete(old))
    elif avatar is not None:
        user.avatar.save(avatar.name, avatar, save=False)
        fields.append("avatar")
    user.save(update_fields=fields)
    return user
