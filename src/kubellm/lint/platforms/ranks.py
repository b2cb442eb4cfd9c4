"""Engine ranks in other pods of a group: a LeaderWorkerSet worker, a KServe or Ray worker that joins
the leader's Ray cluster (`ray start --address …`, vLLM's multi-node-serving.sh worker) runs the same
engine's ranks on its GPUs, so it carries the leader's engine settings."""

from __future__ import annotations

import dataclasses

from kubellm.lint.engines.argv import command_lines
from kubellm.lint.workload import ContainerView, PodView, as_list

LEADER_ROLES = ("leader", "head")
RAY_KINDS = frozenset({"RayCluster", "RayService", "RayJob", "RayClusterFleet"})


def _joins_cluster(container: ContainerView) -> bool:
    command = [str(t) for t in as_list(container.data.get("command"))]
    args = [str(t) for t in as_list(container.data.get("args"))]
    for argv in command_lines(command, args, container.env):
        text = " ".join(argv)
        if "ray start" in text and "--head" not in text:
            return True
        if "multi-node-serving.sh" in text and " worker" in text:
            return True
    return False


def join_ranks(pods: list[PodView]) -> list[PodView]:
    leaders = [p for p in pods if p.role in LEADER_ROLES and p.engines]
    if not leaders:
        return pods
    engine = leaders[0].engines[0].engine
    for pod in pods:
        if pod.role in LEADER_ROLES:
            continue
        ray_pod = pod.obj.kind in RAY_KINDS  # KubeRay starts every worker pod's Ray node for you
        for container in pod.main[:1] if ray_pod else pod.main:
            if container.engine is None and (ray_pod or _joins_cluster(container)):
                container.engine = dataclasses.replace(engine, rank=True) if engine else None
    return pods
