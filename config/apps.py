from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project package as an app: its system checks, and tracing and error reports."""

    name = "config"
    label = "colloquy_config"
    verbose_name = "Colloquy"

    def ready(self):
        from . import checks, telemetry  # noqa: F401 - checks registers the deploy checks

        telemetry.start()  # OpenTelemetry and Sentry, each only when its env vars are set
