"""A tiny form-filling HTTP client over ``requests``, for journeys through real HTTP."""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import requests

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class PageClient:
    def __init__(self, base_url: str, *, lang: str = "ru"):
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = lang
        self.page: requests.Response | None = None

    def get(self, path: str, **kwargs) -> requests.Response:
        self.page = self.http.get(urljoin(self.base_url, path), timeout=10, **kwargs)
        return self.page

    def submit(self, path: str, data: dict, **kwargs) -> requests.Response:
        """POST ``data`` to ``path`` with the CSRF token of the current page."""
        assert self.page is not None, "open a page before submitting a form"
        match = _CSRF.search(self.page.text)
        assert match, "the current page has no CSRF token"
        self.page = self.http.post(urljoin(self.base_url, path), data={"csrf_token": unescape(match.group(1)), **data},
                                   timeout=10, **kwargs)
        return self.page


def codes(html: str) -> list[str]:
    """The stable text codes shown on a page (``data-code`` attributes), in order."""
    return re.findall(r'data-code="([^"]+)"', html)
