from __future__ import annotations

from django.shortcuts import get_object_or_404

from .models import User


def get_profile_user(*, pk: int) -> User:
    return get_object_or_404(User.objects.filter(is_active=True), pk=pk)
