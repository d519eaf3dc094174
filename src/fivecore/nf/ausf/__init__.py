"""AUSF (TS 29.509): 5G AKA and EAP-AKA' authentication of UEs (TS 33.501 §6.1.3)."""

from .app import AusfApp
from .context import AusfContext

__all__ = ["AusfApp", "AusfContext"]
