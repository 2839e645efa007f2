"""Issue 25, items 1 and 2: the wheel is the product. ``scripts/check-wheel`` builds the sdist and the wheel
from it, installs ``requirements.lock`` (hashes required) and then the wheel alone into a fresh virtualenv
outside the checkout, runs ``idp --version`` and ``idp init`` and asks the provider, under gunicorn on a free
loopback port, for its sign-in page. About a minute (PyPI for the build requirements and the locked packages;
pip's cache makes a second run quicker)."""
from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.packaging


def run_check(work: Path) -> str:
    """What ``scripts/check-wheel`` printed, working in ``work`` (dist/, venv/, instance/); fails if it failed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "check-wheel")], env={**env, "CHECK_WHEEL_DIR": str(work)},
                          cwd=work, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"scripts/check-wheel failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_is_the_product(tmp_path):
    """One test (one build, one virtualenv), so pytest-xdist cannot run the check twice at once."""
    output = run_check(tmp_path)
    the_installed_wheel_serves_the_sign_in_page(output)
    the_wheel_holds_every_file_the_provider_reads(tmp_path)
    the_installed_provider_keeps_its_files_out_of_site_packages(tmp_path)


def the_installed_wheel_serves_the_sign_in_page(output: str) -> None:
    lines = output.splitlines()
    assert any(line.startswith("check-wheel: GET http://127.0.0.1:") and line.endswith(": 200, «Вход в личный кабинет»")
               for line in lines), output
    assert "check-wheel: idp, version " in output and lines[-1] == "check-wheel: ok"


def _tracked(path: str) -> set[str]:
    listed = subprocess.run(["git", "ls-files", path], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(listed.stdout.split())


def the_wheel_holds_every_file_the_provider_reads(work: Path) -> None:
    [wheel] = (work / "dist").glob("idp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    theme = _tracked("templates")
    assert theme, "git ls-files found no templates (not a checkout?)"
    assert {"templates/i18n/ru.json", "templates/i18n/en.json", "templates/web/login.html"} <= theme
    missing = {name for name in theme if "idp/" + name not in names}
    assert not missing, f"the wheel lacks these templates: {sorted(missing)}"
    migrations = {name for name in _tracked("idp/migrations") if not name.endswith(".pyc")}
    assert "idp/migrations/script.py.mako" in migrations and len(migrations) > 3
    assert not migrations - names, f"the wheel lacks: {sorted(migrations - names)}"
    assert {"idp/admin/openapi.json", "idp/policies/openapi.json"} <= names
    assert f"{wheel.name.split('-py3')[0]}.data/data/share/idp/gunicorn.conf.py" in names
    assert not [name for name in names if "__pycache__" in name or name.startswith(("tests/", "clients/", "bench/"))]


def the_installed_provider_keeps_its_files_out_of_site_packages(work: Path) -> None:
    venv = work / "venv"
    assert list((venv / "var" / "idp" / "keys").glob("*.jwk.json")), "no signing key in <venv>/var/idp/keys"
    [site_packages] = (venv / "lib").glob("python*/site-packages")
    assert not (site_packages / "keys").exists() and not (site_packages / "instance").exists()
    assert (work / "instance" / "idp.sqlite3").is_file()
