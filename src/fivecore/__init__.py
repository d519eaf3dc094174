"""fivecore: a 5G Standalone core network and RAN simulator on the real 3GPP wire protocols."""

__version__ = "0.1.0"
