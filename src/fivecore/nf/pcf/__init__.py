"""PCF (TS 29.512 SM policy control, TS 29.507 AM policy control, minimal)."""
