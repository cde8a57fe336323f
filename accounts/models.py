from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Length, Lower
from django.db.models.lookups import GreaterThanOrEqual
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The rules live in accounts/names.py; the names stay importable from here (migrations use them).
from .names import display_name_validator, name_skeleton, validate_display_name_characters

__all__ = ["display_name_validator", "validate_display_name_characters"]

TAKEN_NAME = _("This display name is taken, or looks like one that is.")


def display_name_looks_taken(name: str, *, exclude_pk: int | None = None) -> bool:
    """Another account's name equals this one ignoring case, or looks the same (skeleton)."""
    others = User.objects.exclude(pk=exclude_pk) if exclude_pk else User.objects.all()
    return others.filter(
        models.Q(display_name__iexact=name) | models.Q(display_name_skeleton=name_skeleton(name))
    ).exists()


# A ban is a suspension that ends in this year: far enough to mean "never".
BANNED_YEAR = 9999


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        email = self.normalize_email(email).lower() if email else None
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    # Nullable: legacy accounts made by the importer have no email until an admin links one.
    email = models.EmailField(_("email address"), null=True, blank=True, unique=True)
    display_name = models.CharField(
        _("display name"),
        max_length=30,
        validators=[display_name_validator, validate_display_name_characters],
    )
    # name_skeleton(display_name), kept by save(): two names that look alike share it. NULL only
    # for an account whose name already collided when the column was added (it keeps its name
    # until it changes it); NULLs don't collide in the unique constraint, "" would.
    display_name_skeleton = models.CharField(max_length=200, null=True, editable=False)  # noqa: DJ001
    avatar = models.ImageField(_("avatar"), upload_to="avatars/", blank=True)
    avatar_url = models.URLField(
        _("external avatar URL"), max_length=500, blank=True, help_text=_("Imported legacy avatar.")
    )
    bio = models.TextField(_("bio"), max_length=500, blank=True)
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("The language of the emails we send you."),
    )
    is_legacy = models.BooleanField(
        _("legacy account"),
        default=False,
        help_text=_("Created by the legacy importer; has no usable password until claimed."),
    )
    legacy_key = models.CharField(max_length=80, null=True, blank=True, unique=True, editable=False)
    suspended_until = models.DateTimeField(
        _("suspended until"),
        null=True,
        blank=True,
        help_text=_("Can read but not write until then. A ban is a suspension with no end."),
    )
    suspension_reason = models.TextField(_("suspension reason"), blank=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                violation_error_message=_("A user with this email already exists."),
            ),
            models.UniqueConstraint(
                Lower("display_name"),
                name="user_display_name_ci_unique",
                violation_error_message=_("This display name is taken."),
            ),
            models.UniqueConstraint(
                fields=["display_name_skeleton"],
                name="user_display_name_skeleton_unique",
                violation_error_message=_("This display name looks like one that is taken."),
            ),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(Length("display_name"), 1),
                name="user_display_name_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("forum:profile", args=[self.pk])

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name

    def clean(self):
        super().clean()
        if self.email:
            self.email = self.__class__.objects.normalize_email(self.email).lower()
        # Here and not as a constraint check: the skeleton is not a form field, so ModelForms
        # (the admin's too) would skip its constraint and the save would fail instead.
        if self.display_name and display_name_looks_taken(self.display_name, exclude_pk=self.pk):
            raise ValidationError({"display_name": TAKEN_NAME})

    def save(self, *args, update_fields=None, **kwargs):
        if update_fields is None or "display_name" in update_fields:
            self.display_name_skeleton = name_skeleton(self.display_name)
            if update_fields is not None:
                update_fields = {*update_fields, "display_name_skeleton"}
        super().save(*args, update_fields=update_fields, **kwargs)

    @property
    def avatar_src(self) -> str:
        """The avatar to show, or "" when the template should draw the generated fallback."""
        if self.avatar:
            return self.avatar.url
        # Imported URLs are kept as written; only web addresses are ever put in a page.
        return self.avatar_url if self.avatar_url.startswith("https://") else ""

    @property
    def is_suspended(self) -> bool:
        return self.suspended_until is not None and self.suspended_until > timezone.now()

    @property
    def is_banned(self) -> bool:
        return self.suspended_until is not None and self.suspended_until.year >= BANNED_YEAR

    @property
    def initial(self) -> str:
        return (self.display_name.strip() or "?")[0].upper()

    @property
    def avatar_hue(self) -> int:
        # One of 12 stable colours (CSS classes) for the generated fallback avatar.
        return (self.pk or 0) % 12
