# qmail-remote-httpd: the HTTP gateway to qmail-remote's delivery core.
# (OpenSSL is linked into both binaries: TLS, DKIM signing and MTA-STS
# policy fetches; HTTPS is libmicrohttpd's GnuTLS, which libmicrohttpd12
# brings.)
# Build: docker build -t qmail-remote-httpd .
# Run:   docker run -p 8025:8025 -e QMAIL_REMOTE_HTTPD_TOKENS=change-me \
#          -v /etc/qmail-remote/control:/var/qmail/control:ro \
#          -v qmail-remote-state:/var/lib/qmail-remote-httpd qmail-remote-httpd
# Stop:  docker stop --time 75 ... (more than the drain timeout, 60 s by default)

FROM swift:6.3-bookworm AS build
# Debian stable replaces package versions with security updates; pinning
# them would break this build, so versions are left to the release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmicrohttpd-dev libssl-dev libsqlite3-dev libpq-dev pkg-config binutils \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
# One way to build: Swift's runtime linked statically into both binaries
# (qmail-remote is a static executable; Package.swift holds its flags), and
# both stripped: the image needs no Swift libraries and no symbols.
RUN swift build -c release --static-swift-stdlib \
    && install -D -s -m 0755 .build/release/qmail-remote-httpd /out/qmail-remote-httpd \
    && install -D -s -m 0755 .build/release/qmail-remote /out/qmail-remote

FROM debian:bookworm-slim
# The control files belong to root and are read-only for the gateway (the
# qmail way); only queue/lock, where the tcpto tables are rewritten, is the
# service user's. tcpto holds 64 records of 16 bytes, tcpto6 64 of 32.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmicrohttpd12 libssl3 libsqlite3-0 libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 qmail \
    && useradd --system --uid 10001 --gid qmail --home-dir /var/qmail --shell /usr/sbin/nologin qmail \
    && mkdir -p /var/qmail/control /var/qmail/queue/lock \
    && echo localhost > /var/qmail/control/me \
    && chmod 0755 /var/qmail /var/qmail/control /var/qmail/queue \
    && chmod 0644 /var/qmail/control/me \
    && head -c 1024 /dev/zero > /var/qmail/queue/lock/tcpto \
    && head -c 2048 /dev/zero > /var/qmail/queue/lock/tcpto6 \
    && chown -R qmail:qmail /var/qmail/queue/lock \
    && chmod 0644 /var/qmail/queue/lock/tcpto /var/qmail/queue/lock/tcpto6 \
    && install -d -o qmail -g qmail -m 0700 /var/lib/qmail-remote-httpd
COPY --from=build /out/qmail-remote-httpd /out/qmail-remote /usr/local/bin/

ENV QMAILHOME=/var/qmail \
    QMAIL_REMOTE_HTTPD_LISTEN=0.0.0.0:8025
# Mount the control files (me, helohost, smtproutes, timeouts, dkimdomains
# and dkimkeys/) here. The store (--store, by default the SQLite file
# state.db, its journal and the bodies of large queued messages) lives in
# /var/lib/qmail-remote-httpd: keep it on a volume, or queued mail is lost
# with the container.
VOLUME ["/var/qmail/control", "/var/lib/qmail-remote-httpd"]
USER 10001:10001
EXPOSE 8025
STOPSIGNAL SIGTERM
# --probe finds the address the running gateway announced, whatever
# --listen it was started with, and speaks TLS when the gateway serves HTTPS
# (QMAIL_REMOTE_HTTPD_TLS_CERT and _TLS_KEY, mounted secrets; SIGHUP reloads them).
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/qmail-remote-httpd", "--probe"]
# Tokens: QMAIL_REMOTE_HTTPD_TOKENS, or a mounted file named by
# QMAIL_REMOTE_HTTPD_TOKEN_FILE (e.g. a secret at /run/secrets/tokens; it may
# hold sha256: hashes and per-token policies, see the README).
# Without a token the gateway refuses to listen beyond loopback.
ENTRYPOINT ["/usr/local/bin/qmail-remote-httpd"]
