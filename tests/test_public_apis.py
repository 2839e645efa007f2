"""The provider uses only the public APIs of the libraries it is built on (issue 21): no module, name or
attribute with a leading underscore from Authlib, Flask, Werkzeug, SQLAlchemy or psycopg.

Read from the source with ``ast``: an import of a ``_``-prefixed module or name from those packages, and
any ``obj._name`` access (or ``getattr(obj, "_name")``) whose name the provider does not define itself (as
an attribute it assigns, a method, a slot or a module-level name) — the provider's own private names are its
business; a private name it only reads belongs to someone else.
"""
from __future__ import annotations

import ast
from pathlib import Path

LIBRARIES = ("authlib", "flask", "werkzeug", "sqlalchemy", "psycopg", "flask_sqlalchemy", "flask_wtf")
ROOT = Path(__file__).resolve().parents[1] / "idp"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def problems_in(root: Path) -> list[str]:
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in sorted(root.rglob("*.py"))}
    defined: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                defined.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__"
                                                     for t in node.targets)):
                defined.update(c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant))
    found = []
    for path, tree in trees.items():
        where = path.relative_to(root.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in LIBRARIES:
                names = [*node.module.split("."), *(alias.name for alias in node.names)]
                found += [f"{where}:{node.lineno}: from {node.module} import {n}" for n in names if _private(n)]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in LIBRARIES and any(map(_private, alias.name.split("."))):
                        found.append(f"{where}:{node.lineno}: import {alias.name}")
            elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in defined:
                found.append(f"{where}:{node.lineno}: .{node.attr}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in ("getattr", "hasattr")
                  and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                  and isinstance(node.args[1].value, str) and _private(node.args[1].value)
                  and node.args[1].value not in defined):
                found.append(f"{where}:{node.lineno}: {node.func.id}(…, {node.args[1].value!r})")
    return found


def test_idp_uses_public_apis_only():
    assert problems_in(ROOT) == []


def test_the_check_finds_private_names(tmp_path):
    package = tmp_path / "idp"
    package.mkdir()
    (package / "a.py").write_text(
        "from flask import request\nfrom sqlalchemy.orm import _orm_constructor\nimport authlib._internal\n"
        "x = request._get_current_object()\ny = getattr(request, '_cached_json')\n"
        "class Own:\n    def __init__(self):\n        self._mine = 1\n    def use(self):\n        return self._mine\n",
        encoding="utf-8")
    assert sorted(problems_in(package)) == sorted([
        "idp/a.py:2: from sqlalchemy.orm import _orm_constructor", "idp/a.py:3: import authlib._internal",
        "idp/a.py:4: ._get_current_object", "idp/a.py:5: getattr(…, '_cached_json')"])
