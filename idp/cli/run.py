"""``idp run``: Werkzeug's development server, and the metrics listener when ``IDP_METRICS_BIND`` is set.

Production runs gunicorn (``gunicorn -c gunicorn.conf.py idp.wsgi:app``); this is for a laptop.
"""
from __future__ import annotations

import click
from flask.cli import ScriptInfo, pass_script_info
from werkzeug.serving import is_running_from_reloader, run_simple


@click.command("run")
@click.option("--host", "-h", default="127.0.0.1", show_default=True, help="The interface to bind to.")
@click.option("--port", "-p", default=5000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to bind to.")
@click.option("--reload/--no-reload", default=False, show_default=True,
              help="Restart the server when a source file changes.")
@click.option("--with-threads/--without-threads", default=True, show_default=True,
              help="Serve requests in threads.")
@pass_script_info
def run(info: ScriptInfo, host: str, port: int, reload: bool, with_threads: bool) -> None:
    """Run the development server (production: gunicorn, see the README).

    No interactive debugger: the provider answers every error with its own page, so it would never show.
    """
    app = info.load_app()  # here too under the reloader: a configuration error stops it at once
    # With the reloader the server (and every counter) lives in the child process it starts: serve there.
    if not reload or is_running_from_reloader():
        settings = app.extensions["idp"].settings
        if settings.metrics_address is not None:
            from idp.ops.metrics import serve

            try:
                serve(settings.metrics_address)
            except OSError as exc:
                raise click.ClickException(f"cannot serve metrics on IDP_METRICS_BIND={settings.metrics_bind}: {exc}")
            click.echo(f" * Metrics at http://{settings.metrics_bind}/metrics", err=True)
        click.echo(f" * Development server for {settings.issuer} (not for production: use gunicorn)", err=True)
    run_simple(host, port, app, use_reloader=reload, threaded=with_threads)
