"""The browser journeys run twice (scripts/test.sh); each pass checks it is the one it claims.

Without this, a change to test.sh that dropped DEBUG (or pytest-django resetting it) would let
the `make run` pass quietly test the production configuration again.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.db import connection


def test_the_journeys_run_in_the_configuration_they_claim():
    if os.environ.get("COLLOQUY_TEST_CONFIG") == "make-run":
        assert settings.DEBUG is True
        assert connection.vendor == "sqlite"
        assert settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")
        assert settings.CELERY_TASK_ALWAYS_EAGER is True
        assert "config.errors.SiteErrorPagesMiddleware" in settings.MIDDLEWARE
    else:
        assert settings.DEBUG is False
