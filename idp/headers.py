"""The security headers of every response, pages and protocol API alike, set in this one place.

``nosniff`` and ``Referrer-Policy: no-referrer`` everywhere; on HTML the Content-Security-Policy,
``X-Frame-Options: DENY`` and ``Cache-Control: no-store``; HSTS in production. A header a view set itself
is left as it is.
"""
from __future__ import annotations

#: Content-Security-Policy of every HTML page.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HSTS = "max-age=31536000; includeSubDomains"


def add_security_headers(response, *, production: bool) -> None:
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    if "x-content-type-options" not in present:
        headers.add("X-Content-Type-Options", "nosniff")
    if "referrer-policy" not in present:
        headers.add("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        if "content-security-policy" not in present:
            headers.add("Content-Security-Policy", CSP)
        if "x-frame-options" not in present:
            headers.add("X-Frame-Options", "DENY")
        if "cache-control" not in present:
            headers.add("Cache-Control", "no-store")
    if production and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", HSTS)
