#!/usr/bin/env bash
# Runs a command in a network namespace of its own with loopback up, so tests
# can listen on port 25 of 127.0.0.x and [::1] without touching the host.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then
    exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' netns "$@"
else
    exec unshare --map-root-user --net -- bash -c 'ip link set lo up && exec "$@"' netns "$@"
fi
