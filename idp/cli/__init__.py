"""The ``idp`` command: every operator task (``idp --help``).

A plain click group, not Flask's ``FlaskGroup``: none of Flask's ``--app``, ``--env-file`` or ``--debug``
(the application is always this one, settings come only from ``IDP_*`` variables). Commands that need the
application (``flask.cli.with_appcontext``, the ``AppGroup`` groups, ``idp run``) get it from the
:class:`flask.cli.ScriptInfo` the group puts in the click context, built once when such a command runs;
``idp --help`` and ``idp --version`` build nothing. Flask's test CLI runner passes its own ``ScriptInfo``.
"""
from __future__ import annotations

import click
from flask.cli import ScriptInfo, routes_command, shell_command

from idp.cli.accounts import accounts
from idp.cli.audit import audit_command
from idp.cli.clients import clients
from idp.cli.db import db_group
from idp.cli.keys import keys
from idp.cli.deliveries import deliveries
from idp.cli import receipts as _receipts  # noqa: F401  (confirm-subscription, undeliverable… in `deliveries`)
from idp.cli.policies import policies
from idp.cli.purge import purge_command
from idp.cli.run import run
from idp.cli.secrets import secrets_group
from idp.cli.shedding import shedding_command
from idp.cli.support import support
from idp.cli.setup import demo_command, init_command


def _create_app():
    from idp.app import create_app

    return create_app()


@click.group()
@click.version_option(package_name="idp", prog_name="idp", message="%(prog)s, version %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Operate the identity provider. Settings come from IDP_* environment variables."""
    if ctx.obj is None:
        ctx.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False, load_dotenv_defaults=False)


cli.add_command(init_command)
cli.add_command(demo_command)
cli.add_command(accounts)
cli.add_command(db_group)
cli.add_command(audit_command)
cli.add_command(clients)
cli.add_command(keys)
cli.add_command(deliveries)
cli.add_command(policies)
cli.add_command(purge_command)
cli.add_command(support)
cli.add_command(shedding_command)
cli.add_command(secrets_group)
cli.add_command(run)  # the development server, with the metrics listener
cli.add_command(routes_command)  # Flask's `routes` and `shell`, in this application
cli.add_command(shell_command)


def main() -> None:
    from idp.keys import KeyFileError
    from idp.settings import SettingsError

    try:
        cli(prog_name="idp")
    except SettingsError as exc:  # a configuration mistake: one clear line, not a traceback
        click.echo(f"idp: configuration error: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyFileError as exc:  # a key file that cannot be written or read: which one, and why
        click.echo(f"idp: keys error: {exc}", err=True)
        raise SystemExit(1) from None
