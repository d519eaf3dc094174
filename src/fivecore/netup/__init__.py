"""The whole network on one host: ``fivecore up`` (:mod:`.network`), ``fivecore demo``
(:mod:`.demo`), the NFs' metrics and info API wiring (:mod:`.observe`), the UPF process
(:mod:`.upf_proc`), the data-network namespace (:mod:`.dn`) and ``--pcap`` (:mod:`.capture`)."""
