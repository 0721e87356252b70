#!/usr/bin/env sh
# Starts a PostgreSQL 16 server with pgvector for the PostgreSQL search-index tests, from PyPI's
# `pgserver` wheel (Debian packages no pgvector): installs the wheel in a venv, initialises a
# cluster (trust authentication, 127.0.0.1 only) and starts it on port 55433. Idempotent: a
# second run finds everything in place and only starts the server if it is not running.
# Prints the URL to use as OPENMAI_TEST_PGVECTOR_URL on its last line.
#
#   export OPENMAI_TEST_PGVECTOR_URL=$(crates/openmai-index/tests/setup_pgvector.sh | tail -n1)
#   cargo test -p openmai-index
#
# Everything lives under ~/.cache/openmai (pgserver-venv, pgvector-data). PostgreSQL refuses to
# run as root, so as root the server runs as `nobody` (OPENMAI_PGVECTOR_USER), and the venv and
# cluster live under /var/cache/openmai instead, because `nobody` cannot enter /root.
# Stop it with: pg_ctl -D DATA stop (as that user), using the bin directory printed below.
set -eu
PORT="${OPENMAI_PGVECTOR_PORT:-55433}"
PGSERVER_VERSION="${PGSERVER_VERSION:-0.1.4}"
if [ "$(id -u)" = 0 ]; then
    BASE="${OPENMAI_PGVECTOR_BASE:-/var/cache/openmai}"
    RUN_AS="${OPENMAI_PGVECTOR_USER:-nobody}"
else
    BASE="${OPENMAI_PGVECTOR_BASE:-$HOME/.cache/openmai}"
    RUN_AS=""
fi
VENV="$BASE/pgserver-venv"
DATA="$BASE/pgvector-data"

as_server_user() {
    if [ -n "$RUN_AS" ]; then
        runuser -u "$RUN_AS" -- "$@"
    else
        "$@"
    fi
}

find_bin() {
    for dir in "$VENV"/lib/python3*/site-packages/pgserver/pginstall/bin; do
        if [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

mkdir -p "$BASE"
chmod 755 "$BASE"
if ! PGBIN=$(find_bin); then
    echo "installing pgserver==$PGSERVER_VERSION (PostgreSQL 16 + pgvector) in $VENV" >&2
    python3 -m venv "$VENV"
    # Only the bundled binaries are used, not the Python wrapper: no dependencies needed.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
        "pgserver==$PGSERVER_VERSION"
    PGBIN=$(find_bin) || { echo "pgserver installed no PostgreSQL binaries" >&2; exit 1; }
    chmod -R a+rX "$VENV"
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
    echo "initialising a cluster in $DATA" >&2
    rm -rf "$DATA"
    mkdir -p "$DATA"
    if [ -n "$RUN_AS" ]; then
        chown "$RUN_AS" "$DATA"
    fi
    chmod 700 "$DATA"
    as_server_user "$PGBIN/initdb" -D "$DATA" -U postgres -A trust --encoding=UTF8 \
        --no-locale >/dev/null
fi

if ! as_server_user "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    echo "starting PostgreSQL with pgvector on 127.0.0.1:$PORT" >&2
    as_server_user "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
        -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c max_connections=200" \
        start >/dev/null
fi
echo "pgvector server: $PGBIN (data $DATA)" >&2
echo "postgres://postgres@127.0.0.1:$PORT/postgres"
