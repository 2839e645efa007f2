"""Rendering message texts from the theme: ``templates/messages/<purpose>/{subject,email.txt,email.html,sms.txt}``.

Templates are named by purpose (``temporary_password``), so an operator finds and overrides the SMS text
from the tree alone.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from idp.delivery.message import EMAIL, HTTP, SMS, OutgoingMessage


class MessageRenderer:
    def __init__(self, templates_dir: str | Path):
        self.env = Environment(
            loader=FileSystemLoader(str(Path(templates_dir) / "messages")),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=False,
        )

    def render(self, purpose: str, *, channel: str, recipient: str, params: dict) -> OutgoingMessage:
        if channel == EMAIL:
            return OutgoingMessage(
                channel=EMAIL, recipient=recipient, template=purpose,
                subject=self._render(f"{purpose}/subject.txt", params).strip(),
                text=self._render(f"{purpose}/email.txt", params),
                html=self._render(f"{purpose}/email.html", params),
            )
        if channel == SMS:
            text = " ".join(self._render(f"{purpose}/sms.txt", params).split())
            return OutgoingMessage(channel=SMS, recipient=recipient, template=purpose, text=text)
        if channel == HTTP:  # no template: the parameters are the URL and the form posted to it
            return OutgoingMessage(channel=HTTP, recipient=params["url"], template=purpose,
                                   text=urlencode(params["form"]))
        raise ValueError(f"unknown channel {channel!r}")

    def _render(self, name: str, params: dict) -> str:
        return self.env.get_template(name).render(**params).strip() + "\n"
