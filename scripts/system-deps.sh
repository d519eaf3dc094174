#!/usr/bin/env bash
# Installs the Debian packages fivecore's tests and demo use, when running as root and missing.
# tshark: the independent dissector every wire test checks against.
# libusrsctp2: the independent SCTP peer for interoperability tests.
# iputils-ping, iproute2: user-plane tests in network namespaces.
# chromium: renders the `fivecore audit --html` report headless in tests/e2e/test_trust_html.py.
# postgresql: a throw-away server for the PostgreSQL store tests.
set -eu
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
ldconfig -p 2>/dev/null | grep -q libusrsctp.so || need+=(libusrsctp2)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# nftables: `fivecore up` with up.nat masquerades the UE pool (tests/e2e/test_network_up.py).
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# postgresql: the scale-out subscriber store, run for real in tests/e2e/test_store_postgres.py.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
if ((${#need[@]} == 0)); then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then
  echo "fivecore: missing system packages (${need[*]}); install them as root: apt-get install ${need[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
