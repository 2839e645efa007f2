"""Printing results for people or, with ``--json``, for programs; and turning domain errors into messages."""
from __future__ import annotations

import functools
import json

import click

from idp.errors import IdpError

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def emit(data, as_json: bool, human: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        click.echo(human if human is not None else _plain(data))


def _plain(data) -> str:
    if isinstance(data, dict):
        return "\n".join(f"{key}: {'' if value is None else value}" for key, value in data.items())
    if isinstance(data, list):
        return "\n\n".join(_plain(item) for item in data)
    return str(data)


def domain_errors(func):
    """Report an :class:`IdpError` as a one-line message and exit status 1 (or JSON with ``--json``)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except IdpError as exc:
            from idp.extensions import db

            db.session.rollback()
            if kwargs.get("as_json"):
                click.echo(json.dumps({"error": exc.code, "error_description": exc.description or exc.code}))
                raise SystemExit(1) from None
            raise click.ClickException(f"{exc.code}: {exc.description or ''}".rstrip(": ")) from None

    return wrapper
