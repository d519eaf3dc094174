"""Measurement machinery for ``fivecore bench`` and ``make bench`` (issue 9).

- :mod:`.stats`    percentiles and latency summaries
- :mod:`.driver`   an open-loop arrival driver (latency from the scheduled arrival time)
- :mod:`.procs`    per-process CPU and RSS from the kernel's own accounting (psutil)
- :mod:`.network`  start the core as ``fivecore up`` does, on addresses of its own
- :mod:`.attach`   the attach (registration + PDU session) and scale benchmarks
- :mod:`.report`   JSON, tables, the docs/benchmarks.md section and the latency plot
"""
