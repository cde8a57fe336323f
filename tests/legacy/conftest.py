"""Fixtures for the legacy parser tests: the sample archive lives outside the repository."""

from pathlib import Path

import pytest

from forum.legacy import iter_sources, parse_source
from tests.helpers import LEGACY

LEGACY_ROOT = LEGACY


@pytest.fixture(scope="session")
def legacy_root() -> Path:
    if not (LEGACY_ROOT / "README.md").is_file():
        pytest.skip(reason=f"legacy sample archive not found at {LEGACY_ROOT}")
    return LEGACY_ROOT


@pytest.fixture(scope="session")
def parse_file(legacy_root):
    """Parse one sample file, found under legacy_root by its path relative to it."""

    def parse(relative: str):
        (source,) = iter_sources([legacy_root / relative])
        return parse_source(source)

    return parse
