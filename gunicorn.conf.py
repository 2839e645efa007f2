"""gunicorn settings for the provider: ``gunicorn -c gunicorn.conf.py idp.wsgi:app``.

Every value can be overridden from the environment (GUNICORN_* below) or the command line.
"""
import atexit
import multiprocessing
import os
import shutil
import tempfile

# Where to listen. Behind a load balancer: 0.0.0.0:8000, with IDP_TRUSTED_PROXIES=1.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sign-in is CPU-bound (bcrypt), so one worker per core; more only adds memory and context switches.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
# Threads let a worker overlap database and network waits (SES/SNS in inline mode), and let sign-in attempts
# wait for a password check (idp.passwords.admission: the normal lane's IDP_SIGNIN_CHECK_SLOTS checks and
# IDP_SIGNIN_QUEUE_LENGTH waiting, the retry and priority lanes' 1 + 4 each) while 16 more threads answer
# everything else: a waiting attempt is a sleeping thread, and one waiting in gunicorn's own queue for a
# thread would hold up UserInfo and the token endpoint behind it. Threads are made only as they are needed,
# and the protocol API's database connections stay bounded (IDP_PROTOCOL_CONCURRENCY) however many there are.
threads = int(os.environ.get("GUNICORN_THREADS", int(os.environ.get("IDP_SIGNIN_QUEUE_LENGTH") or 48)
                             + int(os.environ.get("IDP_SIGNIN_CHECK_SLOTS") or 1) + 10 + 16))
worker_class = "gthread"
# Load the app once in the master: keys and templates are read once, workers share the pages.
preload_app = True
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then: memory stays flat whatever a library leaks. "Now and then" at full load
# too: a worker answers up to ~3,000 requests a second, so 20,000 recycled each worker every few seconds
# under load (a fork, a cold worker, its keep-alive connections dropped and piled onto the other worker);
# at 500,000 it is every few minutes at full load and about daily at ordinary traffic.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 500000))
max_requests_jitter = max_requests // 10
# gunicorn's access log carries query strings (authorization requests): leave it off; the provider
# logs what matters with request ids, and the metrics count the rest.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")


# Prometheus metrics (IDP_METRICS_BIND): the master serves them on that address, never on the public `bind`,
# adding up every worker's values through prometheus-client's multiprocess mode. Its directory must exist
# before prometheus-client is imported (the app is loaded after this file) and start empty: unless
# PROMETHEUS_MULTIPROC_DIR is set, each master makes its own (IDP_PROMETHEUS_DIR_PID says whose: a HUP
# re-reads this file in the same master, USR2 starts a new master that must not share the old one's).
if os.environ.get("IDP_METRICS_BIND") and (not os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get(
        "IDP_PROMETHEUS_DIR_PID", str(os.getpid())) != str(os.getpid())):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="idp-prometheus-")
    os.environ["IDP_PROMETHEUS_DIR_PID"] = str(os.getpid())


@atexit.register  # however the master ends, a failed start too; a worker's pid is not the owner's
def _remove_own_multiproc_dir():
    if os.environ.get("IDP_PROMETHEUS_DIR_PID") == str(os.getpid()):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def when_ready(server):
    """Start the metrics listener in the master (once, whatever the number of workers)."""
    from idp.wsgi import app  # already loaded (preload_app): its validated settings

    settings = app.extensions["idp"].settings
    if settings.metrics_address is None:
        return
    from idp.ops.metrics import serve

    try:
        server.idp_metrics_listener = serve(settings.metrics_address)
    except OSError as exc:
        server.log.error("idp: cannot serve metrics on IDP_METRICS_BIND=%s: %s", settings.metrics_bind, exc)
        raise SystemExit(2) from None
    server.log.info("Metrics at: http://%s/metrics", settings.metrics_bind)


def post_fork(server, worker):
    """A worker does not keep the master's metrics socket open."""
    listener = getattr(server, "idp_metrics_listener", None)
    if listener is not None:
        listener.socket.close()


def child_exit(server, worker):
    """With PROMETHEUS_MULTIPROC_DIR set, drop a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
