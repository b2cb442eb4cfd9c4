"""Volumes shared wrongly: a ReadWriteOnce claim in several pods, a /dev/shm larger than the pod's memory."""

from __future__ import annotations

from collections.abc import Iterator

from kubellm.lint.context import LintContext
from kubellm.lint.facts import shm_memory_limit_gib, shm_volume
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.loader import K8sObject
from kubellm.lint.quantity import gib
from kubellm.lint.registry import rule
from kubellm.lint.workload import PodView, as_dict, as_list

SINGLE_NODE_MODES = frozenset({"ReadWriteOnce", "ReadWriteOncePod"})
# Provisioners whose volumes live on one node's disk (a PersistentVolume with node affinity to it).
NODE_LOCAL_PROVISIONERS = frozenset(
    {"kubernetes.io/no-provisioner", "rancher.io/local-path", "openebs.io/local", "topolvm.io"}
)
# k3s ships the local-path provisioner as its default class under this name.
NODE_LOCAL_CLASSES = frozenset({"local-path"})


def _node_local(ctx: LintContext, pvc: K8sObject) -> str | None:
    """Why the claim's volume sits on one node (so every pod that mounts it runs there, where
    ReadWriteOnce lets them all mount it), or None when that is not known."""
    volume = str(pvc.spec.get("volumeName") or "")
    pv = ctx.find("PersistentVolume", volume, "") if volume else None
    if pv is not None:
        kind = next((k for k in ("local", "hostPath") if isinstance(pv.spec.get(k), dict)), None)
        if kind:
            return f"it binds the {kind} PersistentVolume {volume!r}"
    name = str(pvc.spec.get("storageClassName") or "")
    sc = ctx.find("StorageClass", name, "") if name else None
    provisioner = str(sc.data.get("provisioner") or "") if sc else ""
    if provisioner in NODE_LOCAL_PROVISIONERS:
        return f"its StorageClass {name!r} ({provisioner}) provisions node-local volumes"
    if sc is None and name in NODE_LOCAL_CLASSES:
        return f"its StorageClass {name!r} provisions node-local volumes"
    return None


def _claims(pod: PodView) -> Iterator[tuple[int, str]]:
    for i, volume in enumerate(as_list(pod.spec.get("volumes"))):
        claim = as_dict(as_dict(volume).get("persistentVolumeClaim")).get("claimName")
        if claim:
            yield i, str(claim)


def _pods_mounting(ctx: LintContext, claim: str, namespace: str) -> int:
    """How many pods of the set mount the claim at once (replicas × pods per group)."""
    total = 0
    for pod in ctx.pods:
        if pod.obj.namespace != namespace or not any(c == claim for _, c in _claims(pod)):
            continue
        per_group = pod.group_size - 1 if pod.role == "worker" else 1
        total += (pod.replicas or 1) * max(1, per_group)
    return total


@rule(
    "REL016",
    "rwo-claim-shared",
    Severity.WARNING,
    "A ReadWriteOnce claim is mounted by several pods, or by a rollout that surges",
    why="A ReadWriteOnce volume attaches to one node: a second replica (or the new pod of a RollingUpdate with "
    "maxSurge) scheduled on another node hangs in ContainerCreating (`Multi-Attach error for volume … Volume is "
    "already used by pod(s)`); ReadWriteOncePod refuses even a second pod on the same node. A node-local "
    "volume (a `local` or `hostPath` PersistentVolume, a local-path class) brings every pod to its node, where "
    "ReadWriteOnce lets them share it.",
    fix="Use a ReadWriteMany class for a model cache shared by replicas (or a volumeClaimTemplate per pod), and "
    "roll out with `strategy: Recreate` (or maxSurge 0) when the claim is single-node.",
    bad="kind: PersistentVolumeClaim\nspec: {accessModes: [ReadWriteOnce]}\n# mounted by a Deployment with replicas: 3",
    good="kind: PersistentVolumeClaim\nspec: {accessModes: [ReadWriteMany]}",
)
def rwo_claim_shared(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for index, claim in _claims(pod):
        pvc = ctx.find("PersistentVolumeClaim", claim, pod.obj.namespace)
        modes = [str(m) for m in as_list(pvc.spec.get("accessModes"))] if pvc else []
        if not modes or not set(modes) <= SINGLE_NODE_MODES:
            continue
        mode = "ReadWriteOncePod" if "ReadWriteOncePod" in modes else "ReadWriteOnce"
        if mode == "ReadWriteOnce" and pvc is not None and _node_local(ctx, pvc):
            continue  # every pod runs on the volume's node, and ReadWriteOnce is per node
        count = _pods_mounting(ctx, claim, pod.obj.namespace)
        path = f"{pod.path}.volumes[{index}].persistentVolumeClaim"
        if count > 1:
            yield Hit(
                f"{mode} claim {claim!r} is mounted by {count} pods: pods on other nodes cannot attach it",
                path,
            )
        elif pod.max_surge is not None:
            yield Hit(
                f"{mode} claim {claim!r} with a rollout that surges ({pod.max_surge}): the new pod waits for the old one "
                "to release the volume, and on another node it never attaches",
                path,
            )


@rule(
    "GPU032",
    "shm-over-memory-limit",
    Severity.WARNING,
    "A /dev/shm sizeLimit is above the pod's memory limit",
    why="A memory-backed emptyDir is charged to the pod's memory limit: a sizeLimit above it never applies, and a "
    "full /dev/shm OOM-kills the engine instead of failing the write.",
    fix="Keep the /dev/shm sizeLimit well below the pod's memory limit (NCCL needs a few GiB), or raise the limit.",
    bad="resources: {limits: {memory: 16Gi}}\nvolumes: [{name: shm, emptyDir: {medium: Memory, sizeLimit: 64Gi}}]",
    good="resources: {limits: {memory: 64Gi}}\nvolumes: [{name: shm, emptyDir: {medium: Memory, sizeLimit: 8Gi}}]",
)
def shm_over_memory_limit(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    reported: set[int] = set()
    for c in pod.containers:
        volume, index = shm_volume(pod, c)
        if volume is None or index is None or index in reported:
            continue
        reported.add(index)
        size = gib(as_dict(volume.get("emptyDir")).get("sizeLimit"))
        limit = shm_memory_limit_gib(pod, index) if size is not None else None
        if size is not None and limit is not None and size > limit:
            yield Hit(
                f"/dev/shm sizeLimit {size:g} GiB is above the memory limit of {limit:g} GiB it is charged to",
                f"{pod.path}.volumes[{index}].emptyDir.sizeLimit",
            )
