"""UDR (TS 29.504/29.505/29.519): subscription, policy and context data over the subscriber store,
plus the subscriber management REST API."""

from .app import UdrApp
from .context import UdrContext

__all__ = ["UdrApp", "UdrContext"]
