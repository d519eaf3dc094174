"""The AMF (TS 23.501 §6.2.1): NGAP towards gNBs, 5GMM towards UEs, SBI towards AUSF and UDM.

Layout (ARCHITECTURE.md): :mod:`.context` (gNB and UE contexts), :mod:`.gmm` (5GMM
procedures, sans-I/O), :mod:`.ngap_handler` (NGAP procedures, sans-I/O), :mod:`.nas_io`
(codec and NAS security bridge), :mod:`.clients` (AUSF/UDM consumers), :mod:`.app` (wiring).
"""
