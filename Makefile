# shimmy-lab: the two commands of the README, plus helpers.
#   make run    install into .venv if needed, then serve the bundled model (OpenAI API on 127.0.0.1:11435)
#   make test   install if needed, then run the whole test suite (unit, real model, server, notebooks)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.shimmy-installed
# torch is pinned through constraints.txt: an unpinned torch pulls a multi-GB CUDA build.
PIP_INSTALL := $(PIP) install --constraint constraints.txt
# llama-cpp-python compiles llama.cpp here.  Its default -march=native also emits AMX
# instructions where the CPU lists them, and a VM that does not grant the AMX state kills the
# process with SIGILL at the first decode (seen on a Firecracker guest).  So: no native build,
# each SIMD level this CPU lists switched on (AVX-512 runs ~1.3x faster than AVX2 here), AMX off.
# It is built with --no-cache-dir: pip's wheel cache is keyed without CMAKE_ARGS and would hand
# back a wheel built with other flags.  Set CMAKE_ARGS yourself to override; `make clean` first
# to rebuild an installed one.
LLAMA_SIMD := avx:AVX avx2:AVX2 fma:FMA f16c:F16C avx512f:AVX512 avx512vbmi:AVX512_VBMI \
              avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16 avx_vnni:AVX_VNNI
CMAKE_ARGS ?= -DGGML_NATIVE=OFF $(shell for f in $(LLAMA_SIMD); do \
  if grep -qw "$${f%%:*}" /proc/cpuinfo 2>/dev/null; then echo "-DGGML_$${f#*:}=ON"; \
  else echo "-DGGML_$${f#*:}=OFF"; fi; done)
export CMAKE_ARGS

.PHONY: install browser redis run test bench clean

$(STAMP): pyproject.toml constraints.txt Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel setuptools
	$(PIP_INSTALL) torch==2.13.0
	$(PIP_INSTALL) --no-cache-dir "llama-cpp-python>=0.3.0"
	$(PIP_INSTALL) -e ".[all,test,bench]"
	@touch $@

install: $(STAMP)

run: install
	$(VENV)/bin/shimmy-lab serve

# The story page is tested in a real headless Chromium (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium) >/dev/null; \
	  else echo "chromium is missing (apt-get install chromium); the browser test will be skipped"; fi; }
	@test -d tests/browser/node_modules/playwright-core || \
	  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || \
	  echo "npm ci failed: the JupyterLab widget test will be skipped"

# Replicas sharing stories are tested against a real redis-server (Debian's package).
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server) >/dev/null; \
	  else echo "redis-server is missing (apt-get install redis-server); the Redis tests will be skipped"; fi; }

test: install browser redis
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/engines.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
