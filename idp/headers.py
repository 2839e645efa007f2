"""The security headers of every response, pages and protocol API alike, defined in this one place.

``nosniff`` and ``Referrer-Policy: no-referrer`` everywhere; on HTML the Content-Security-Policy,
``X-Frame-Options: DENY`` and ``Cache-Control: no-store``; HSTS in production.
"""
from __future__ import annotations

#: Content-Security-Policy of every HTML page.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(mimetype: str | None, *, production: bool) -> list[tuple[str, str]]:
    """The security headers of a response of this media type."""
    headers = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
    if mimetype == "text/html":
        headers += [("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY"), ("Cache-Control", "no-store")]
    if production:
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


def add_security_headers(response, *, production: bool) -> None:
    """Add :func:`security_headers` to a Flask/Werkzeug response; a header its view set itself stays."""
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    for name, value in security_headers(response.mimetype, production=production):
        if name.lower() not in present:
            headers.add(name, value)
