"""Realistic objects for the operator's tests (kubellm.operator; the folder is not named
operator, which would shadow the standard library's module of that name): what a real API server and scheduler stored (data/), and
LLMService resources as the server returns them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from kubellm.cluster.snapshot import ClusterSnapshot

DATA = Path(__file__).parent / "data"
REAL = DATA / "real-scheduler"


def items(name: str, folder: Path = REAL) -> list[dict[str, Any]]:
    """The items of a `kubectl get -o json` list, with kind set as a list leaves it off."""
    data = json.loads((folder / f"{name}.json").read_text())
    kind = {"pods": "Pod", "events": "Event", "nodes": "Node", "statefulsets": "StatefulSet",
            "deployments": "Deployment", "jobs": "Job", "llms": "LLMService"}[name]  # fmt: skip
    return [{"kind": kind, **i} for i in data["items"]]


def real_snapshot(service: str) -> ClusterSnapshot:
    """The real control plane's objects of one service (nodes: all of them), as the operator reads them."""
    snap = ClusterSnapshot(cluster_wide=True)
    snap.nodes = items("nodes")
    snap.pods = [
        p for p in items("pods") if p["metadata"]["labels"].get("app.kubernetes.io/instance") == service
    ]
    snap.events = items("events")
    snap.workloads = [
        w
        for kind in ("statefulsets", "deployments", "jobs")
        for w in items(kind)
        if w["metadata"]["labels"].get("app.kubernetes.io/instance") == service
    ]
    return snap


def real_resource(name: str) -> dict[str, Any]:
    """The LLMService as the server stored it (defaults filled in), without the status the operator wrote."""
    found = next(copy.deepcopy(r) for r in items("llms") if r["metadata"]["name"] == name)
    found.pop("status", None)
    return found


def resource(name: str = "qwen", namespace: str = "llm", generation: int = 1, **spec: Any) -> dict[str, Any]:
    """A new LLMService as a user would write it."""
    body: dict[str, Any] = {
        "model": {"source": "hf://Qwen/Qwen2.5-7B-Instruct"},
        "gpu": {"type": "l4", "count": 1},
    }
    body.update(spec)
    return {
        "apiVersion": "kubellm.dev/v1alpha1",
        "kind": "LLMService",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "generation": generation},
        "spec": body,
    }
