#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the release binaries,
# runs the Swift unit tests (with a throw-away PostgreSQL server for the
# store's tests), then the end-to-end tests against the real
# qmail-remote and qmail-remote-httpd (scripted SMTP and DNS servers,
# smtp-sink, aiosmtpd, curl, schemathesis, hadolint) in a network namespace of
# their own, so they may listen on port 25 of 127.0.0.x and reach nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="/opt/swift/usr/bin:$PATH"

swift format lint --strict --recursive --parallel Sources Tests Package.swift
swift build -c release --static-swift-stdlib
scripts/with-postgres.sh swift test

export QMAIL_REMOTE_BIN="$PWD/.build/release/qmail-remote"
export QMAIL_REMOTE_HTTPD_BIN="$PWD/.build/release/qmail-remote-httpd"
if scripts/in-netns.sh true 2>/dev/null; then
    QMR_NETNS=1 scripts/in-netns.sh python3 -m pytest -q -p no:cacheprovider Tests/e2e
else
    echo "test: cannot create a network namespace here; tests that need port 25 are skipped" >&2
    python3 -m pytest -q -p no:cacheprovider Tests/e2e
fi
