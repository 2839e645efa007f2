"""The framework's ceiling on this machine: a Flask app with one trivial JSON endpoint.

``bench/run.py`` serves it with the provider's own ``gunicorn.conf.py`` (same workers, threads, worker
class, preload, keep-alive) and measures it in the same run as the provider's endpoints, so every
provider figure can be read as a fraction of what Flask + gunicorn alone can do here.
"""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(status="ok")
