from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project package as an app: only so that its system checks are registered."""

    name = "config"
    label = "colloquy_config"
    verbose_name = "Colloquy"

    def ready(self):
        from . import checks  # noqa: F401 - registers the deploy checks
