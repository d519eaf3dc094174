"""NSSF (TS 29.531 Nnssf_NSSelection): slice selection for the AMF."""
