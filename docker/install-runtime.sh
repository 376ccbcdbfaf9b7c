#!/bin/sh
# Install shimmy-lab's runtime into a Python virtual environment: the wheels of WHEEL_DIR
# (shimmy-lab's and the llama-cpp-python one the build stage compiled), plus their
# dependencies from the package index, as wheels only (nothing is compiled here).
#
#   docker/install-runtime.sh VENV WHEEL_DIR [extra pip arguments...]
#
# VENV is created with `python3 -m venv` unless VENV/bin/python exists. The Dockerfile's
# runtime stage runs it, and so does tests/test_deploy.py (with --no-deps --no-index and a
# venv that takes the dependencies from the test environment), so the two cannot drift.
set -eu

if [ "$#" -lt 2 ]; then
    echo "usage: $0 VENV WHEEL_DIR [pip arguments...]" >&2
    exit 2
fi
venv=$1
wheels=$2
shift 2

set -- "$wheels"/*.whl "$@"
if [ ! -e "$1" ]; then
    echo "no wheel in $wheels" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
# The wheel files are named explicitly: pip takes them for shimmy-lab and llama-cpp-python
# rather than a newer release from the index (a llama-cpp-python sdist would be compiled
# here, with -march=native).
"$venv/bin/python" -m pip install --no-cache-dir --disable-pip-version-check --only-binary=:all: "$@"
"$venv/bin/python" -c "import llama_cpp, shimmy_lab; print('shimmy-lab', shimmy_lab.__version__, 'llama-cpp-python', llama_cpp.__version__)"
"$venv/bin/shimmy-lab" --help > /dev/null
