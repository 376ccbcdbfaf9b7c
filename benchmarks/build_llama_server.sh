#!/bin/sh
# Build llama.cpp's own C++ `llama-server` from the llama.cpp source that the installed
# llama-cpp-python vendors (its sdist), for benchmarks/server.py only. Prints the binary's path.
#   sh benchmarks/build_llama_server.sh [PYTHON]
# Built for AVX2/AVX-512 without -march=native: native builds take AMX kernels, which crash where
# a VM reports AMX it does not let a process use (in ggml_backend_amx_mul_mat). A CPU without
# AVX-512 needs the -DGGML_AVX512* flags removed.
# The build is cached in ~/.cache/shimmy-lab/llama-server/<version>/ (about 5 minutes on 2 cores).
set -eu
PY=${1:-${PYTHON:-python}}
VER=$("$PY" -c "import importlib.metadata as m; print(m.version('llama_cpp_python'))")
DIR=${SHIMMY_CACHE:-$HOME/.cache/shimmy-lab}/llama-server/$VER
BIN=$DIR/build/bin/llama-server
if [ ! -x "$BIN" ]; then
    mkdir -p "$DIR"
    if [ ! -d "$DIR/src" ]; then
        [ -f "$DIR/llama_cpp_python-$VER.tar.gz" ] || "$PY" -m pip download "llama-cpp-python==$VER" --no-deps --no-binary :all: -d "$DIR" >&2
        mkdir -p "$DIR/src.tmp"
        tar -xzf "$DIR/llama_cpp_python-$VER.tar.gz" -C "$DIR/src.tmp" --strip-components 1
        mv "$DIR/src.tmp" "$DIR/src"   # only a complete extraction gets the name
    fi
    cmake -S "$DIR/src/vendor/llama.cpp" -B "$DIR/build" -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
        -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_BACKEND_DL=OFF \
        -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON \
        -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON >&2
    cmake --build "$DIR/build" --target llama-server -j "$(nproc)" >&2
fi
echo "$BIN"
