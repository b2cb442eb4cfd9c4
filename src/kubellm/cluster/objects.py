"""Reading plain Kubernetes objects: names, quantities, GPU requests and node capacity."""

from __future__ import annotations

import math
from typing import Any

from kubellm.quantity import parse_quantity as parse_quantity

GPU_RESOURCE = "nvidia.com/gpu"
GIB = 2.0**30


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def name_of(obj: dict[str, Any]) -> str:
    return str(meta(obj).get("name", "?"))


def namespace_of(obj: dict[str, Any]) -> str:
    return str(meta(obj).get("namespace", ""))


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    value = meta(obj).get("labels")
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def annotations_of(obj: dict[str, Any]) -> dict[str, str]:
    value = meta(obj).get("annotations")
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def ref(obj: dict[str, Any]) -> str:
    """'Kind/namespace/name' (or 'Kind/name' for cluster-scoped objects)."""
    ns = namespace_of(obj)
    return f"{obj.get('kind', '?')}/{ns}/{name_of(obj)}" if ns else f"{obj.get('kind', '?')}/{name_of(obj)}"


def dig(obj: Any, *keys: str | int) -> Any:
    """obj[k1][k2]… or None when any step is missing or of the wrong type."""
    current = obj
    for key in keys:
        if isinstance(key, int):
            if not isinstance(current, list) or len(current) <= key:
                return None
        elif not isinstance(current, dict):
            return None
        current = current[key] if isinstance(key, int) else current.get(key)
        if current is None:
            return None
    return current


def as_int(value: Any) -> int:
    """A count from an API object (restartCount, replicas …); 0 when it is not a whole number."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Pod, or of a workload's pod template."""
    if obj.get("kind") == "Pod":
        spec = obj.get("spec")
    elif obj.get("kind") == "LeaderWorkerSet":
        spec = dig(obj, "spec", "leaderWorkerTemplate", "workerTemplate", "spec")
    else:
        spec = dig(obj, "spec", "template", "spec")
    return spec if isinstance(spec, dict) else {}


def is_gpu_resource(name: str) -> bool:
    return name == GPU_RESOURCE or name.startswith(("nvidia.com/mig-", "nvidia.com/gpu."))


def gpu_requests(obj: dict[str, Any]) -> dict[str, int]:
    """GPU resources (nvidia.com/gpu, MIG slices) the pod asks for, summed over its containers."""
    total: dict[str, int] = {}
    for container in as_list(pod_spec(obj).get("containers")):
        limits = as_dict(dig(container, "resources", "limits"))
        requests = as_dict(dig(container, "resources", "requests"))
        for res_name, value in {**requests, **limits}.items():
            amount = parse_quantity(value)
            if is_gpu_resource(str(res_name)) and amount and math.isfinite(amount):
                total[str(res_name)] = total.get(str(res_name), 0) + int(amount)
    return total


def memory_limit_bytes(container: dict[str, Any]) -> float | None:
    return parse_quantity(dig(container, "resources", "limits", "memory"))


def node_gpus(node: dict[str, Any], field: str = "allocatable") -> dict[str, int]:
    """GPU resources a node advertises (allocatable or capacity)."""
    values = as_dict(dig(node, "status", field))
    result: dict[str, int] = {}
    for res_name, value in values.items():
        amount = parse_quantity(value)
        if is_gpu_resource(str(res_name)) and amount is not None and math.isfinite(amount):
            result[str(res_name)] = int(amount)
    return result


def node_ready(node: dict[str, Any]) -> bool:
    for cond in as_list(dig(node, "status", "conditions")):
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def container_statuses(pod: dict[str, Any], init: bool = False) -> list[dict[str, Any]]:
    key = "initContainerStatuses" if init else "containerStatuses"
    return as_list(dig(pod, "status", key))


def gib(value_bytes: float) -> str:
    return f"{value_bytes / GIB:.1f} GiB"
