"""Evaluation: the perturbation benchmark of the narrative detectors."""

from __future__ import annotations

from .perturb import KINDS, Perturbation, benchmark, perturb

__all__ = ["KINDS", "Perturbation", "perturb", "benchmark"]
