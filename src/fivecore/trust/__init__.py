"""Vendor trust zones and the RAN exposure audit."""
