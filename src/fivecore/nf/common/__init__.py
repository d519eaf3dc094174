"""Plumbing shared by every NF: the SBI client interface (two bindings), NfApp lifecycle,
JSON Patch. See ``src/fivecore/nf/README.md``."""

from .app import NfApp, run_forever
from .client import LocalRegistry, NoProducer, SbiClient, service_uri

__all__ = ["LocalRegistry", "NfApp", "NoProducer", "SbiClient", "run_forever", "service_uri"]
