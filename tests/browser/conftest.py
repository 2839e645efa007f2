"""Fixtures for the browser suite: Debian's Chromium driven by Playwright's sync API.

No pytest-playwright: one Chromium per session, a fresh context per page a test opens, screenshots
kept under ``artifacts/screenshots/<test>/NN-step.png``, and every console error, uncaught exception
and CSP violation of a page collected so a test can assert there was none.

``scripts/install-browser`` puts Chromium at /usr/bin/chromium (or checks the one ``IDP_TEST_CHROMIUM`` names)
and axe-core in tests/browser/node_modules. Without them the suite is skipped on a developer's machine — with
the reason install-browser gave when it could not install them, which ``scripts/test`` passes on as
``IDP_TEST_BROWSER_UNAVAILABLE`` — and fails under CI (``CI=true``).
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("IDP_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("IDP_TEST_ARTIFACTS", ROOT / "artifacts"))
#: How long one wait for an element or a navigation may take before the test fails (ms).
TIMEOUT_MS = 10_000
INSTALL_HINT = "run scripts/install-browser"
#: Why scripts/install-browser could not make the browser runnable on this machine (set by scripts/test).
INSTALL_FAILED = os.environ.get("IDP_TEST_BROWSER_UNAVAILABLE", "").strip()

# Reports CSP violations as console errors in case the browser's own report changes wording.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});
"""


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} ({INSTALL_HINT}); CI=true, so the browser tests must run", pytrace=False)
    if INSTALL_FAILED:
        pytest.skip(f"{reason}; scripts/install-browser could not install it here: {INSTALL_FAILED}")
    pytest.skip(f"{reason}: {INSTALL_HINT} to run the browser tests")


def pytest_collection_modifyitems(items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_call_failed = report.failed
    return report


@pytest.fixture(scope="session")
def playwright():
    if not CHROMIUM.exists():
        _unavailable(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def chromium(playwright):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.is_file():
        _unavailable(f"axe-core is not installed at {AXE_JS}")
    return AXE_JS.read_text(encoding="utf-8")


@dataclass
class PageWatch:
    """What went wrong in one page's console: errors, uncaught exceptions, CSP violations."""

    problems: list[str] = field(default_factory=list)

    def on_console(self, message) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console.{message.type}: {message.text} @ {message.location.get('url', '')}")

    def on_page_error(self, error) -> None:
        self.problems.append(f"uncaught: {error}")


class Screenshots:
    """``shot(page, "step")`` → artifacts/screenshots/<test>/NN-step.png, numbered in order taken."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0
        shutil.rmtree(folder, ignore_errors=True)

    def __call__(self, page, step: str, *, full_page: bool = True) -> Path:
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', step).strip('-')}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


def _test_folder_name(node) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", node.name).strip("-")


@pytest.fixture
def shot(request) -> Screenshots:
    return Screenshots(ARTIFACTS / "screenshots" / _test_folder_name(request.node))


class Browsers:
    """Opens pages in fresh browser contexts (Russian by default) and closes them after the test."""

    def __init__(self, chromium, base_url: str, shot: Screenshots):
        self.chromium = chromium
        self.base_url = base_url
        self.shot = shot
        self.opened: list[tuple[object, object, PageWatch]] = []

    def new_page(self, *, locale: str = "ru-RU", **context_options):
        context = self.chromium.new_context(base_url=self.base_url, locale=locale, **context_options)
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(_CSP_LISTENER)
        page = context.new_page()
        watch = PageWatch()
        page.on("console", watch.on_console)
        page.on("pageerror", watch.on_page_error)
        page.watch = watch  # the test reads page.watch.problems
        self.opened.append((context, page, watch))
        return page

    def close(self, failed: bool) -> None:
        for context, page, _ in self.opened:
            if failed and not page.is_closed():
                try:
                    self.shot(page, "failure")
                except Exception:  # noqa: BLE001 - a failure screenshot is best effort
                    pass
            context.close()


@pytest.fixture
def browsers(chromium, live_server, shot, request):
    opened = Browsers(chromium, live_server.url, shot)
    yield opened
    opened.close(failed=getattr(request.node, "browser_call_failed", False))


@pytest.fixture
def page(browsers):
    """A page in a Russian-speaking browser (Accept-Language ru-RU), phone-free desktop size."""
    return browsers.new_page()
