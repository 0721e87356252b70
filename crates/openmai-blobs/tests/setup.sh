#!/usr/bin/env sh
# Installs moto's S3 server (PyPI `moto[server]`) for openmai-blobs' S3 integration test, in a
# throw-away venv at ~/.cache/openmai/moto-venv (the test looks there, then on PATH, then at
# $OPENMAI_MOTO_SERVER). Needs python3 with venv; takes about a minute. Idempotent.
#
#   crates/openmai-blobs/tests/setup.sh && cargo test -p openmai-blobs
set -eu
VENV="${OPENMAI_MOTO_VENV:-$HOME/.cache/openmai/moto-venv}"
MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
if [ -x "$VENV/bin/moto_server" ]; then
    echo "moto already installed: $VENV/bin/moto_server"
    exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
echo "installed: $VENV/bin/moto_server"
if [ "$VENV" != "$HOME/.cache/openmai/moto-venv" ]; then
    echo "export OPENMAI_MOTO_SERVER=$VENV/bin/moto_server"
fi
