"""The site's own settings, with one change: static files are collected into a throwaway
directory (BENCH_STATIC_ROOT) instead of <repo>/staticfiles, so a bench run leaves nothing in
the work tree. Everything else, middleware and caches included, is config.settings as is."""

import os
from pathlib import Path

from config.settings import *  # noqa: F403

STATIC_ROOT = Path(os.environ["BENCH_STATIC_ROOT"])
