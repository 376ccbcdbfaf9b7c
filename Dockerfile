# syntax=docker/dockerfile:1
# shimmy-lab's server image (docs/deploy.md).
#
#   docker build -t shimmy-lab .
#   docker run -p 11435:11435 -v shimmy-stories:/data/stories shimmy-lab
#
# Two stages: `build` compiles llama-cpp-python into a wheel and builds shimmy-lab's wheel;
# the runtime stage is a slim Python with only those wheels (and their dependencies, as
# wheels from the package index) in /opt/shimmy, run by a non-root user.
# tests/test_deploy.py lints this file with hadolint and runs docker/install-runtime.sh and
# docker/start.sh, the runtime stage's install and start commands, in a fresh virtualenv.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ------------------------------------------------------------------------------ build
FROM ${PYTHON_IMAGE} AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*

# llama.cpp's SIMD levels. The Makefile switches on each level the build machine's CPU
# lists; an image runs on CPUs nobody knows at build time, so it gets a fixed portable set:
# x86-64-v3 (AVX, AVX2, FMA, F16C: every x86 server since 2013-2015, Intel Haswell and AMD
# Excavator on). AVX-512 and AVX-VNNI are off: many nodes lack them (AMD before Zen 4, several
# Intel lines) and the process would die with SIGILL there. AMX is off and -march=native is
# never used: a native build emits AMX instructions where the build host has them, and a
# VM that does not grant the AMX state kills the process with SIGILL at the first decode.
# Override with --build-arg LLAMA_CMAKE_ARGS=... for a known fleet (e.g. -DGGML_AVX512=ON).
ARG LLAMA_CPP_PYTHON_VERSION=0.3.36
ARG LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"

WORKDIR /src
# --no-cache-dir: pip's wheel cache is keyed without CMAKE_ARGS (see the Makefile).
RUN CMAKE_ARGS="${LLAMA_CMAKE_ARGS}" pip wheel --no-cache-dir --no-deps --wheel-dir /wheels \
        "llama-cpp-python==${LLAMA_CPP_PYTHON_VERSION}"

# shimmy_lab/data/datasets is a link to datasets/: both go in.
COPY pyproject.toml README.md LICENSE ./
COPY datasets ./datasets
COPY shimmy_lab ./shimmy_lab
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# ---------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="shimmy-lab" \
      org.opencontainers.image.description="OpenAI-compatible, narrative-aware LLM server (bundled SmolLM2-135M)" \
      org.opencontainers.image.licenses="MIT"

# llama.cpp's libraries link OpenMP (libgomp); libstdc++ is in the base image already.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

COPY --chmod=755 docker/install-runtime.sh docker/start.sh /usr/local/bin/
COPY docker/healthcheck.py /usr/local/lib/shimmy/healthcheck.py
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    /usr/local/bin/install-runtime.sh /opt/shimmy /wheels

RUN groupadd --system --gid 10001 shimmy \
    && useradd --system --uid 10001 --gid shimmy --home-dir /home/shimmy --create-home shimmy \
    && mkdir -p /data/stories \
    && chown -R shimmy:shimmy /data

# Settings are SHIMMY_* variables (docs/server.md) or a shimmy.toml named by SHIMMY_CONFIG.
# The image sets only what it defines: the address, the port and the store volume (a
# variable wins over shimmy.toml, so anything set here could not be changed there). Under a
# CPU limit, set SHIMMY_THREADS to it: llama.cpp's default, one thread per core of the host,
# would oversubscribe the quota.
ENV PATH=/opt/shimmy/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SHIMMY_HOST=0.0.0.0 \
    SHIMMY_PORT=11435 \
    SHIMMY_STORE=/data/stories

USER 10001:10001
WORKDIR /home/shimmy
VOLUME ["/data/stories"]
EXPOSE 11435

# /health answers while the process lives (it never waits for the model); readiness
# (/ready) is the orchestrator's probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/lib/shimmy/healthcheck.py"]

# start.sh runs `shimmy-lab serve --host 0.0.0.0 [flags]`; `docker run IMAGE --parallel 2`
# adds flags, `docker run IMAGE shimmy-lab models` runs another command.
ENTRYPOINT ["/usr/local/bin/start.sh"]
CMD []
