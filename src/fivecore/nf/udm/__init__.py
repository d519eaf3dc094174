"""UDM (TS 29.503): UEAU with the SIDF, UECM, SDM with subscriptions and change notifications."""

from .app import UdmApp
from .context import UdmContext

__all__ = ["UdmApp", "UdmContext"]
