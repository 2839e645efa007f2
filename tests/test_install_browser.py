"""Issue 25, item 6: ``scripts/install-browser`` honours ``IDP_TEST_CHROMIUM``, and where it cannot install
what the browser tests need it says why: outside CI the run goes on with the browser tests skipped for that
reason, under ``CI=true`` it fails. The script runs from a copy of the checkout's layout in a temporary folder
(so its axe-core folder is that copy's) with a PATH that holds only the basic tools: no apt-get, no sudo, no
npm, no dpkg — a machine where nothing can be installed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AXE_VERSION = "4.14.1"
TOOLS = ("bash", "env", "sed", "head", "id", "dirname", "cat", "rm", "mkdir")


@pytest.fixture
def layout(tmp_path):
    """A checkout's layout with the real script; a bin folder with only the basic tools; a Chromium stand-in."""
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "install-browser", tmp_path / "scripts" / "install-browser")
    (tmp_path / "tests" / "browser").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    chromium = tmp_path / "my-chromium"
    chromium.write_text("#!/bin/sh\necho 'Chromium 1.0 (the one IDP_TEST_CHROMIUM names)'\n")
    chromium.chmod(0o755)
    return tmp_path


def with_axe(layout: Path) -> None:
    package = layout / "tests" / "browser" / "node_modules" / "axe-core"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "axe-core", "version": AXE_VERSION}, indent=2))
    (package / "axe.min.js").write_text("/* axe */")


def install_browser(layout: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {"PATH": str(layout / "bin"), "HOME": str(layout), "AXE_CORE_VERSION": AXE_VERSION, **variables}
    return subprocess.run([str(layout / "bin" / "bash"), str(layout / "scripts" / "install-browser")], env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_chromium_of_idp_test_chromium_is_used_and_nothing_installed(layout):
    with_axe(layout)
    done = install_browser(layout, IDP_TEST_CHROMIUM=str(layout / "my-chromium"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # no reason to skip anything
    assert f"{layout / 'my-chromium'}: Chromium 1.0 (the one IDP_TEST_CHROMIUM names)" in done.stderr
    assert "installing" not in done.stderr and done.stderr.endswith("install-browser: ready\n")


def test_outside_ci_what_cannot_be_installed_skips_the_browser_tests_with_the_reason(layout):
    done = install_browser(layout, IDP_TEST_CHROMIUM=str(layout / "my-chromium"))  # axe-core missing, no npm
    assert done.returncode == 0, done.stderr
    reason = "cannot install npm (no apt-get on this machine): install them, or set IDP_TEST_CHROMIUM to a Chromium"
    assert done.stdout == reason + "\n"
    assert "the browser tests will be skipped; the rest of the suite runs" in done.stderr


def test_under_ci_what_cannot_be_installed_fails(layout):
    done = install_browser(layout, IDP_TEST_CHROMIUM=str(layout / "my-chromium"), CI="true")
    assert done.returncode == 1 and done.stdout == ""
    assert "cannot install npm (no apt-get on this machine)" in done.stderr
    assert "(CI=true: the browser tests must run)" in done.stderr


@pytest.mark.parametrize("ci, returncode", [("", 0), ("true", 1)])
def test_a_wrong_idp_test_chromium_is_named(layout, ci, returncode):
    with_axe(layout)
    done = install_browser(layout, IDP_TEST_CHROMIUM=str(layout / "nowhere"), CI=ci)
    assert done.returncode == returncode
    assert f"IDP_TEST_CHROMIUM={layout / 'nowhere'} is not an executable file" in done.stderr
    assert done.stdout == ("" if ci else f"IDP_TEST_CHROMIUM={layout / 'nowhere'} is not an executable file\n")


@pytest.mark.parametrize("ci", ["", "true"])
def test_the_browser_tests_skip_with_the_reason_outside_ci_and_fail_under_it(tmp_path, ci):
    # No IDP_* setting of this run: on SQLite, the inner run takes no PostgreSQL lock this run holds.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IDP_", "PYTEST_")) and k not in {"CI"}}
    env.update(IDP_TEST_CHROMIUM=str(tmp_path / "nowhere"), CI=ci,
               IDP_TEST_BROWSER_UNAVAILABLE="no apt-get on this machine")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-rs", "-q",
                           "tests/browser/test_sign_in_journey.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    if ci:
        assert done.returncode == 1, done.stdout
        assert "CI=true, so the browser tests must run" in done.stdout
    else:
        assert done.returncode == 0, done.stdout
        assert " skipped" in done.stdout and " passed" not in done.stdout and " failed" not in done.stdout
        assert (f"Chromium is not installed at {tmp_path / 'nowhere'}; scripts/install-browser could not install "
                f"it here: no apt-get on this machine") in done.stdout
