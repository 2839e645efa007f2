"""Operations: health and readiness, Prometheus metrics, structured logs with request ids."""
from idp.ops.health import bp as health_bp
from idp.ops.logs import configure_logging, install_request_ids
from idp.ops.metrics import count_delivery, count_event

__all__ = ["configure_logging", "count_delivery", "count_event", "health_bp", "install_request_ids"]
