from allauth.account.signals import password_reset
from django.dispatch import receiver

from . import services


@receiver(password_reset)
def _password_reset_verifies_the_email(sender, request, user, **kwargs):
    services.verify_email_by_password_reset(user=user)
