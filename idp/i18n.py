"""User-facing texts by stable code, Russian first, English second.

The words live in ``templates/i18n/<locale>.json`` (operators may override the theme folder); code and
tests refer to texts only by their codes.
"""
from __future__ import annotations

import json
from pathlib import Path

SUPPORTED = ("ru", "en")
DEFAULT = "ru"


class Catalogue:
    def __init__(self, folder: str | Path):
        self._texts: dict[str, dict[str, str]] = {}
        for locale in SUPPORTED:
            path = Path(folder) / f"{locale}.json"
            self._texts[locale] = json.loads(path.read_text(encoding="utf-8"))
        missing = set(self._texts[DEFAULT]) ^ set(self._texts["en"])
        if missing:
            raise ValueError(f"i18n catalogues differ in codes: {sorted(missing)}")

    def text(self, locale: str, code: str, **params) -> str:
        texts = self._texts.get(locale) or self._texts[DEFAULT]
        template = texts.get(code)
        if template is None:
            template = self._texts[DEFAULT].get(code, code)
        return template.format(**params) if params else template

    def has(self, code: str) -> bool:
        return code in self._texts[DEFAULT]


def pick_locale(requested: str | None, remembered: str | None, accept_languages) -> str:
    """The first supported locale of: ``?lang=``/``ui_locales`` (space-separated), the session, the browser."""
    for tag in (requested or "").replace(",", " ").split():
        lang = tag.split("-")[0].lower()
        if lang in SUPPORTED:
            return lang
    if remembered in SUPPORTED:
        return remembered
    if accept_languages is not None:
        best = accept_languages.best_match(SUPPORTED)
        if best:
            return best
    return DEFAULT
