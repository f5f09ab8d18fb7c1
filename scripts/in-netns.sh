#!/usr/bin/env bash
# Runs a command in a network namespace of its own with loopback up, so tests
# can listen on port 25 of 127.0.0.x and [::1] without touching the host.
# IPv6 test hosts: every address of fd00::/64 is local (servers bind them
# with IP_FREEBIND and do not count as this machine's), and fd00::a is an
# interface address (one of this machine's, for outgoingip6 and the MX rule).
set -euo pipefail
setup='ip link set lo up && ip -6 route add local fd00::/64 dev lo && ip -6 addr add fd00::a/128 dev lo nodad'
if [ "$(id -u)" = 0 ]; then
    exec unshare --net -- bash -c "$setup"' && exec "$@"' netns "$@"
else
    exec unshare --map-root-user --net -- bash -c "$setup"' && exec "$@"' netns "$@"
fi
