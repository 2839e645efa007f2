"""``idp run``: Flask's development server, and the metrics listener when ``IDP_METRICS_BIND`` is set."""
from __future__ import annotations

import click
from flask.cli import ScriptInfo, get_debug_flag, run_command
from werkzeug.serving import is_running_from_reloader


def _run(**options) -> None:
    reload = options["reload"] if options["reload"] is not None else get_debug_flag()
    # With the reloader the server (and every counter) lives in the child process it starts: serve there.
    if not reload or is_running_from_reloader():
        app = click.get_current_context().ensure_object(ScriptInfo).load_app()  # the one run_command serves
        settings = app.extensions["idp"].settings
        if settings.metrics_address is not None:
            from idp.ops.metrics import serve

            try:
                serve(settings.metrics_address)
            except OSError as exc:
                raise click.ClickException(f"cannot serve metrics on IDP_METRICS_BIND={settings.metrics_bind}: {exc}")
            click.echo(f" * Metrics at http://{settings.metrics_bind}/metrics", err=True)
    run_command.callback(**options)


#: Flask's ``run`` with its options and help, starting the metrics listener first.
run = click.Command("run", callback=_run, params=run_command.params, help=run_command.help,
                    short_help=run_command.short_help)
