#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the release binary,
# runs the Swift unit tests, then the end-to-end tests against the real binary
# (scripted SMTP and DNS servers, smtp-sink, aiosmtpd) in a network namespace
# of their own so they may listen on port 25 of 127.0.0.x.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="/opt/swift/usr/bin:$PATH"

swift build -c release --product qmail-remote
swift test

export QMAIL_REMOTE_BIN="$PWD/.build/release/qmail-remote"
if scripts/in-netns.sh true 2>/dev/null; then
    QMR_NETNS=1 scripts/in-netns.sh python3 -m pytest -q -p no:cacheprovider Tests/e2e
else
    echo "test: cannot create a network namespace here; tests that need port 25 are skipped" >&2
    python3 -m pytest -q -p no:cacheprovider Tests/e2e
fi
