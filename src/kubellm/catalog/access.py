"""Which Hugging Face repositories are gated (a download needs a token of an account that accepted the terms).

The facts live in ``data/gated.yaml`` with the evidence for each pattern; ``gated_repo`` answers for one
repository id, so init, plan and render can refuse a gated model without ``security.hf_token_secret`` before
the prefetch Job meets a 401 in the cluster.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True, slots=True)
class GatedRepo:
    """A gated-repository pattern, why, and where that was seen."""

    pattern: str
    note: str
    evidence: tuple[str, ...]


@cache
def gated_patterns() -> tuple[GatedRepo, ...]:
    text = resources.files("kubellm.catalog").joinpath("data", "gated.yaml").read_text(encoding="utf-8")
    rows = yaml.safe_load(text)["gated"]
    return tuple(GatedRepo(r["pattern"].lower(), r["note"], tuple(r["evidence"])) for r in rows)


def gated_repo(repo_id: str) -> GatedRepo | None:
    """The gate that covers ``repo_id`` ('org/name', case-insensitive), or None when it downloads freely."""
    key = repo_id.strip().lower().removeprefix("hf://")
    key = "/".join(key.split("/")[:2])
    for gate in gated_patterns():
        if fnmatch.fnmatchcase(key, gate.pattern):
            return gate
    return None
