"""gunicorn settings for the provider: ``gunicorn -c gunicorn.conf.py idp.wsgi:app``.

Every value can be overridden from the environment (GUNICORN_* below) or the command line.
"""
import multiprocessing
import os

# Where to listen. Behind a load balancer: 0.0.0.0:8000, with IDP_TRUSTED_PROXIES=1.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sign-in is CPU-bound (bcrypt), so one worker per core; more only adds memory and context switches.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
# Threads let a worker overlap database and network waits (SES/SNS in inline mode).
threads = int(os.environ.get("GUNICORN_THREADS", 4))
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
# logs what matters with request ids, and /metrics counts the rest.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")


def child_exit(server, worker):
    """With PROMETHEUS_MULTIPROC_DIR set, drop a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
