"""NRF (TS 29.510): NF registration, heartbeat supervision, status notifications, discovery."""

from .app import NrfApp
from .context import NrfContext

__all__ = ["NrfApp", "NrfContext"]
