"""The site's settings (same middleware, sessions, cache) with a URLconf of one tiny view:
the floor that Django and gunicorn cost on this machine, to read the page figures against."""

from pathlib import Path

from bench.harness.app_settings import *  # noqa: F403
from bench.harness.app_settings import TEMPLATES

ROOT_URLCONF = "bench.harness.bare_urls"
TEMPLATES[0]["DIRS"] = [Path(__file__).resolve().parent / "templates", *TEMPLATES[0]["DIRS"]]
