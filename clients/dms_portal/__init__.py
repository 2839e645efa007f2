"""The demo ДМС portal: a small Flask relying party that signs customers in through the provider."""
from clients.dms_portal.app import create_app
from clients.dms_portal.config import ConfigError, PortalConfig

__all__ = ["ConfigError", "PortalConfig", "create_app"]
