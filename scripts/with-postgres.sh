#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL server (Debian's postgresql
# package, initdb into a temporary directory, a free port on 127.0.0.1; as
# nobody under root) and QMAIL_REMOTE_TEST_POSTGRES_URL naming it; the server
# is stopped and removed afterwards. Usage: scripts/with-postgres.sh swift test
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 Tests/e2e/postgres.py run -- "$@"
