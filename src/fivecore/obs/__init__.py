"""Observability: metrics, structured logs, pcap writer."""
