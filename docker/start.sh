#!/bin/sh
# The container's entry point: `shimmy-lab serve --host 0.0.0.0` (plus any flags given to
# `docker run IMAGE --flag ...`); every other setting comes from the SHIMMY_* variables
# (docs/server.md). Any other command runs as given (`docker run IMAGE shimmy-lab models`).
# tests/test_deploy.py starts the server through this script too.
set -eu

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    exec shimmy-lab serve --host "${SHIMMY_HOST:-0.0.0.0}" "$@"
fi
exec "$@"
