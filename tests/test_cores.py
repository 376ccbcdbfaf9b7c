"""usable_cores: the host's cores, within the affinity mask and the cgroup CPU quota."""

import math
import os

import pytest

from shimmy_lab.cores import cgroup_quota, usable_cores


def _write(root, files: dict[str, str]):
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


@pytest.mark.parametrize("files, own, quota", [
    ({"cpu.max": "150000 100000\n"}, "", 1.5),                     # cgroup v2, own namespace (a container)
    ({"kube/pod1/cpu.max": "100000 100000\n", "cpu.max": "max 100000\n"}, "/kube/pod1", 1.0),  # v2, host view
    ({"cpu.max": "max 100000\n"}, "", None),                        # v2 without a limit
    ({"cpu/cpu.cfs_quota_us": "250000\n", "cpu/cpu.cfs_period_us": "100000\n"}, "", 2.5),  # cgroup v1
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, "", None),     # v1 without a limit
    ({"cpu.max": "garbage\n"}, "", None),
    ({}, "", None),                                                 # no cgroup files at all
])
def test_cgroup_quota(tmp_path, files, own, quota):
    _write(tmp_path, files)
    assert cgroup_quota(tmp_path, own) == quota


def test_usable_cores_rounds_the_quota_up_and_never_exceeds_the_host(tmp_path):
    host = min(os.cpu_count() or 1, len(os.sched_getaffinity(0)))
    _write(tmp_path, {"cpu.max": "50000 100000\n"})
    assert usable_cores(tmp_path, "") == 1  # half a core still runs one thread
    _write(tmp_path, {"cpu.max": f"{(host + 8) * 100000} 100000\n"})
    assert usable_cores(tmp_path, "") == host  # a quota above the host's cores changes nothing
    _write(tmp_path, {"cpu.max": "max 100000\n"})
    assert usable_cores(tmp_path, "") == host
    _write(tmp_path, {"cpu.max": "120000 100000\n"})
    assert usable_cores(tmp_path, "") == min(host, math.ceil(1.2))


def test_settings_size_slots_and_threads_by_the_usable_cores(monkeypatch):
    from shimmy_lab import settings as settings_mod
    from shimmy_lab.settings import Settings, auto_slots

    monkeypatch.setattr(settings_mod, "usable_cores", lambda: 1)
    s = Settings(parallel="auto")
    assert s.slots() == auto_slots(1) and s.engine_kwargs()["n_threads"] == 1
