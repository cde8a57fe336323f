"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live_server.

Every page a test opens goes through `watch()`: requests that leave the live server are
aborted (nothing reaches the internet, e.g. imported avatar URLs), JavaScript dialogs are
recorded and dismissed (a dialog is how an XSS shows itself) and console errors are kept; at
teardown a test fails if any dialog opened, the browser reported a Content-Security-Policy
violation, or anything else was logged as an error (an htmx event error, an uncaught exception,
a static file that failed to load).

Two kinds of "Failed to load resource" are expected and not errors: requests this fixture
aborted (they leave the live server), and the site's deliberate 4xx answers to htmx requests
(400/403/409/429 carry a message that the page swaps in place; the tests assert that message).

The suite runs these journeys twice (scripts/test.sh): in the production configuration (DEBUG
off, PostgreSQL, Redis) and in the `make run` one (DEBUG on, SQLite, local-memory cache, eager
Celery), so a defect that only shows with DEBUG on can't hide.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run in a
# thread with a running loop unless told it is fine (the tests never share connections with it).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
BROWSER_DIR = Path(__file__).resolve().parent
ARTIFACTS = BROWSER_DIR.parent.parent / "test-artifacts"

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

CSP_VIOLATION = re.compile(r"Content Security Policy|Refused to", re.IGNORECASE)
FAILED_LOAD = re.compile(
    r"^Failed to load resource: (?:the server responded with a status of (\d+)|net::)"
)
# The statuses the site answers htmx requests with on purpose (see htmx-config in base.html).
INTENDED_HTMX_STATUSES = {"400", "403", "409", "429"}


def _chromium_missing() -> str | None:
    if not os.path.isfile(CHROMIUM_PATH) or not os.access(CHROMIUM_PATH, os.X_OK):
        return (
            f"Chromium not found at {CHROMIUM_PATH} (set CHROMIUM_PATH; "
            "`playwright install` can't download here)"
        )
    return None


def pytest_collection_modifyitems(config, items):
    """Every test in this folder is a browser test; skip them all when Chromium is missing."""
    missing = _chromium_missing()
    for item in items:
        if BROWSER_DIR not in Path(str(item.path)).resolve().parents:
            continue
        item.add_marker(pytest.mark.browser)
        if missing:
            item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    missing = _chromium_missing()
    if missing:
        pytest.skip(missing)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM_PATH,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--headless=new",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # English first, like most readers of the site; the language switch test changes it.
    return {**browser_context_args, "viewport": DESKTOP, "locale": "en-US"}


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@dataclass
class Watch:
    """What the browser reported while a test ran (across every page it opened)."""

    origin: str
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def _expected_failed_load(self, message) -> bool:
        failed = FAILED_LOAD.match(message.text)
        if not failed:
            return False
        url = message.location.get("url") or ""
        if url in self.blocked:
            return True
        status = failed.group(1)
        return status in INTENDED_HTMX_STATUSES and "/static/" not in url

    def __call__(self, page):
        """Guard one page: keep it on the live server and listen to what it reports."""

        def route(route):
            url = route.request.url
            if url == self.origin or url.startswith(self.origin + "/"):
                route.continue_()
            else:
                self.blocked.append(url)
                route.abort()

        def on_dialog(dialog):
            self.dialogs.append(f"{dialog.type}: {dialog.message!r} on {page.url}")
            dialog.dismiss()

        def on_console(message):
            text = message.text
            if CSP_VIOLATION.search(text):
                self.csp_violations.append(f"{text} on {page.url}")
            elif message.type == "error" and not self._expected_failed_load(message):
                self.console_errors.append(f"{text} ({message.location.get('url')}) on {page.url}")

        page.route("**/*", route)
        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda error: self.console_errors.append(f"pageerror: {error}"))
        return page


@pytest.fixture
def watch(live_server) -> Iterator[Watch]:
    """Call `watch(page)` on every page a test opens; the `page` fixture is watched already."""
    watcher = Watch(origin=live_server.url)
    yield watcher
    assert not watcher.dialogs, f"a JavaScript dialog opened (XSS?): {watcher.dialogs}"
    assert not watcher.csp_violations, f"CSP violations: {watcher.csp_violations}"
    assert not watcher.console_errors, f"console errors: {watcher.console_errors}"


@pytest.fixture
def page(page, watch):
    """pytest-playwright's page (1280×900, English), guarded by `watch`."""
    page.set_default_timeout(10_000)
    return watch(page)


@pytest.fixture
def new_page(browser, watch) -> Iterator[Callable]:
    """A page in a context of its own (another viewport, JavaScript off, another person)."""
    contexts = []

    def make(**context_args):
        context_args.setdefault("viewport", DESKTOP)
        context_args.setdefault("locale", "en-US")
        context = browser.new_context(**context_args)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return watch(page)

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def log_in(live_server, client) -> Callable:
    """`log_in(page, user)`: give the page's browser context a session of `user` (no form)."""

    def log_in(page, user) -> None:
        client.force_login(user)
        page.context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )

    return log_in
