"""The apps depend in one direction: accounts ← forum ← notifications ← moderation ← demo.

An app imports only itself and the apps to its left; the forum announces what happened
(forum.events) and the apps above it react, so nothing below needs anything above. Every import
counts — at the top of a module or inside a function — because a deferred import is the usual
way a cycle hides. `config` (settings, URLs, the admin site) sits above them all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["accounts", "forum", "notifications", "moderation", "demo"]


def imported_apps(path: Path) -> list[tuple[int, str]]:
    """(line, app) of every import of one of our apps in the module at `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name.split(".")[0]) for name in names]
    return [(line, app) for line, app in found if app in LAYERS]


def app_modules(app: str) -> list[Path]:
    return [p for p in sorted((ROOT / app).rglob("*.py")) if "migrations" not in p.parts]


@pytest.mark.parametrize("app", LAYERS)
def test_an_app_imports_only_the_apps_below_it(app):
    allowed = set(LAYERS[: LAYERS.index(app) + 1])
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {other}"
        for path in app_modules(app)
        for line, other in imported_apps(path)
        if other not in allowed
    ]
    assert wrong == []


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from moderation.models import Report\n    import forum.models\n"
    )
    assert imported_apps(module) == [(2, "moderation"), (3, "forum")]


def test_every_app_is_in_a_layer():
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")} - {"config"}
    assert apps == set(LAYERS)
