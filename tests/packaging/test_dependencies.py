"""Issue 25, item 2: every package the code imports is declared in ``pyproject.toml`` — ``idp/`` by the
runtime dependencies or an extra, the tests by those or the ``test`` extra — and ``requirements.lock``
pins, with hashes, a version inside every declared range of the runtime and its production extras."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
#: The extras a production install takes, and so the lock holds.
PRODUCTION_EXTRAS = ("postgres", "server", "redis")


def requirements(*extras: str) -> list[Requirement]:
    found = [Requirement(line) for line in PROJECT["dependencies"]]
    for extra in extras:
        found += [Requirement(line) for line in PROJECT["optional-dependencies"][extra]]
    return found


def declared(*extras: str) -> set[str]:
    return {canonicalize_name(r.name) for r in requirements(*extras)}


def top_level_imports(folder: Path) -> dict[str, str]:
    """Each absolute import's first name → one place that imports it (``path:line``)."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def undeclared(folder: Path, allowed: set[str], local: set[str]) -> list[str]:
    """Imports of ``folder`` that are neither stdlib, nor local, nor from a distribution in ``allowed``."""
    distributions = packages_distributions()
    problems = []
    for name, where in sorted(top_level_imports(folder).items()):
        if name in sys.stdlib_module_names or name in local:
            continue
        owners = {canonicalize_name(d) for d in distributions.get(name, [])}
        if not owners & allowed:
            problems.append(f"{where}: import {name} (from {sorted(owners) or 'no installed distribution'})")
    return problems


def test_every_import_of_idp_is_declared():
    assert undeclared(ROOT / "idp", declared(*PRODUCTION_EXTRAS), {"idp"}) == []


def test_every_import_of_the_runtime_proper_is_a_runtime_dependency():
    """Only the code behind an extra (PostgreSQL, Redis) may import a package of that extra."""
    optional = {"psycopg": "idp/oidc/store/connections.py", "redis": "idp/throttling/redis_store.py"}
    for problem in undeclared(ROOT / "idp", declared(), {"idp"}):
        name = problem.split("import ")[1].split()[0]
        assert name in optional and problem.startswith(optional[name]), problem


def test_every_import_of_the_tests_is_declared():
    assert undeclared(ROOT / "tests", declared("test"), {"idp", "tests", "clients"}) == []


def test_the_check_finds_an_undeclared_import(tmp_path):
    (tmp_path / "a.py").write_text("import json\nimport yaml\nfrom flask import Flask\nimport idp.app\n")
    global ROOT
    root, ROOT = ROOT, tmp_path
    try:
        assert [p.split(": ")[1].split(" (")[0] for p in undeclared(tmp_path, declared(), {"idp"})] == ["import yaml"]
    finally:
        ROOT = root


def locked() -> dict[str, tuple[Version, str]]:
    """requirements.lock: name → (version, its environment marker or "")."""
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pins = {}
    for match in re.finditer(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)(?: ; ([^\\]+?))? \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)",
                             text, re.MULTILINE):
        pins[canonicalize_name(match[1])] = (Version(match[2]), match[3] or "")
    # Every requirement line is a pin with hashes: nothing pip could resolve on its own.
    requirement_lines = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(requirement_lines) == len(pins), set(requirement_lines)
    return pins


def test_the_lock_pins_every_production_requirement_inside_its_range():
    pins = locked()
    for requirement in requirements(*PRODUCTION_EXTRAS):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"requirements.lock lacks {requirement} (run scripts/lock)"
        assert pins[name][0] in requirement.specifier, \
            f"requirements.lock has {name}=={pins[name][0]}, pyproject.toml wants {requirement} (run scripts/lock)"
    assert not {"pytest", "moto", "playwright", "schemathesis"} & set(pins), "test packages in the production lock"
