#!/usr/bin/env bash
# Installs what building, testing or benchmarking needs, only what is missing,
# idempotently: Debian packages through apt-get (after one apt-get update),
# Python test peers through pip. Usage: scripts/setup.sh build|test|bench
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-test}

export PATH="/opt/swift/usr/bin:$PATH"
command -v swift >/dev/null || { echo "setup: Swift is not at /opt/swift; install Swift 6.x first" >&2; exit 1; }

packages=(pkg-config libmicrohttpd-dev libssl-dev libsqlite3-dev libpq-dev)
case "$want" in
    build) ;;
    # postgresql: the tests start servers of their own (Tests/e2e/postgres.py);
    # libemail-mime-perl: the second MIME parser the composer's round-trip tests run;
    # opendkim-tools: OpenDKIM's verifier (opendkim-testmsg); openssl: test keys;
    # time: GNU time, for the peak RSS of a signed 50 MB message; valgrind: what
    # a delivery nobody signs runs (callgrind); strace: what a delivery opens and
    # connects to.
    test) packages+=(postfix iproute2 util-linux curl postgresql libemail-mime-perl opendkim-tools openssl time
                     valgrind strace) ;;
    # valgrind: bench/cli.sh counts instructions, bench/startup-order.sh lists functions.
    bench) packages+=(postfix msmtp hyperfine time wrk postgresql openssl valgrind) ;;
    *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    # Postfix is wanted for smtp-sink/smtp-source only: never configure or start it.
    echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$want" != build ]; then
    python3 -m pip install -q --disable-pip-version-check -r Tests/e2e/requirements.txt 2>&1 \
        | grep -v "Running pip as the 'root' user" || true
fi
