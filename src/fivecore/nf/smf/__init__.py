"""SMF (TS 23.501 §6.2.2): Nsmf_PDUSession (TS 29.502), 5GSM (TS 24.501 §6), N4 (TS 29.244)."""
