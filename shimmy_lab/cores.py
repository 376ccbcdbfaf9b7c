"""How many CPU cores this process may use: the ones it may run on, within its CPU quota.

``os.cpu_count()`` counts the host's cores.  In a container (Docker ``--cpus``, a
Kubernetes CPU limit) or under ``taskset`` the process gets fewer: a server that sizes its
slots and threads by the host count oversubscribes its quota and is throttled (every
llama.cpp thread then waits on the slowest).  :func:`usable_cores` is the smallest of the
host count, the CPU affinity mask and the cgroup quota (v2 ``cpu.max``, v1
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), the quota rounded up: a limit of 1.5 CPUs
gives 2 threads, as the Go and Java runtimes count it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["usable_cores", "cgroup_quota"]

#: where the cgroup file systems are mounted
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _own_cgroup(proc: Path = Path("/proc/self/cgroup")) -> str:
    """This process's cgroup v2 path ("/system.slice/x.scope"; "" when unknown)."""
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return ""
    return next((line[3:].strip("/") for line in lines if line.startswith("0::")), "")


def cgroup_quota(root: Path | str = CGROUP_ROOT, own: str | None = None) -> float | None:
    """The CPU quota of this process's cgroup in cores (1.5 for ``--cpus 1.5``), or None
    when there is none (no cgroup files, ``max``, or unreadable ones).

    Parameters
    ----------
    root : path
        The cgroup mount point (tests point it at a folder of their own).
    own : str, optional
        This process's cgroup v2 path under ``root`` (default: read from
        ``/proc/self/cgroup``; in a container with its own cgroup namespace it is "").
    """
    root = Path(root)
    own = _own_cgroup() if own is None else own.strip("/")
    v2 = [root / own / "cpu.max"] if own else []
    for quota_file, period_file in ([(f, None) for f in v2] + [(root / "cpu.max", None)]
                                    + [(root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us"),
                                       (root / "cpu.cfs_quota_us", root / "cpu.cfs_period_us")]):
        try:
            words = quota_file.read_text().split()
            if period_file is not None:
                words.append(period_file.read_text().strip())
        except (OSError, ValueError):
            continue
        if len(words) < 2 or words[0] in ("max", "-1"):
            return None
        try:
            quota, period = float(words[0]), float(words[1])
        except ValueError:
            return None
        return quota / period if quota > 0 and period > 0 else None
    return None


def usable_cores(root: Path | str = CGROUP_ROOT, own: str | None = None) -> int:
    """The cores this process may use: ``min(host cores, affinity mask, ceil(cgroup quota))``,
    at least 1. ``root`` and ``own`` as in :func:`cgroup_quota`.

    Examples
    --------
    >>> 1 <= usable_cores() <= (os.cpu_count() or 1)
    True
    """
    n = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        n = min(n, len(os.sched_getaffinity(0)) or n)
    quota = cgroup_quota(root, own)
    if quota is not None:
        n = min(n, math.ceil(quota))
    return max(1, n)
