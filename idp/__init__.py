"""An OpenID Connect provider for insurance customers' client accounts."""
from idp.app import create_app
from idp.settings import Settings

__all__ = ["Settings", "create_app"]
