"""The build's one step beyond ``pyproject.toml``: the wheel carries the theme.

The repository keeps the theme (hosted pages, message texts, translations, static files) at the top level,
in ``templates/``, where operators and designers look for it. A built wheel carries a copy of it inside the
package, as ``idp/templates``, which :func:`idp.settings.default_templates_dir` finds when the provider runs
from an installed wheel; an editable checkout has no such copy and reads the top-level folder itself.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithTheme(build_py):
    """``build_py``, then ``templates/`` copied to ``<build>/idp/templates`` (skipped for editable installs)."""

    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            self.copy_tree("templates", str(Path(self.build_lib) / "idp" / "templates"))


setup(cmdclass={"build_py": BuildPyWithTheme})
