"""The RAN simulator: USIM, UE and gNB, talking to the core only over the wire."""
