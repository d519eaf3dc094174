"""Network functions, one package each: nrf ausf udm udr amf smf upf pcf nssf."""
