"""Issue 25, item 1, the checkout's side of the one rule for the provider's files: without a theme inside
the package (a checkout, an editable install) the defaults are the repository's ``templates/``,
``instance/`` and ``keys/``; tests/packaging/test_wheel.py checks the installed side."""
from __future__ import annotations

from pathlib import Path

import idp
from idp.settings import Settings, default_home, default_templates_dir

ROOT = Path(__file__).resolve().parents[2]


def test_a_checkout_reads_the_top_level_theme_and_keeps_its_files_in_the_repository():
    assert not (Path(idp.__file__).parent / "templates").exists()  # only a built wheel has that copy
    assert default_templates_dir() == ROOT / "templates"
    assert default_home() == ROOT
    settings = Settings(secret_key="s" * 40).validated()
    assert Path(settings.templates_dir) == ROOT / "templates"
    assert Path(settings.instance_dir) == ROOT / "instance" and Path(settings.keys_dir) == ROOT / "keys"
    assert (Path(settings.templates_dir) / "i18n" / "ru.json").is_file()
