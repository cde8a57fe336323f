"""Functions run in import worker processes by tests/forum/test_import_pool.py (this module
imports nothing of Django: a worker imports it by name)."""

import os


def die(sources, column):
    os._exit(1)  # a worker killed mid-batch (the OOM killer, a kill -9)
