"""`render cluster`: the GPU setup of a cluster from a GpuCluster spec.

Objects: the GPU Operator's Helm values (in a ConfigMap, with the install command), the device
plugin config (time-slicing and MPS per pool), the MIG manager's layouts, the RuntimeClass,
node-pool labels/taints and cluster-autoscaler hints, a warm-node placeholder, the DCGM exporter's
ServiceMonitor, and a smoke-test Job per pool that runs ``nvidia-smi`` and a CUDA vector add on
each GPU node before any model is deployed.
"""

from __future__ import annotations

import shlex
from typing import Any

from kubellm.catalog import Catalog, GpuSpec, default_catalog
from kubellm.errors import UsageError
from kubellm.render.images import CUDA_SAMPLE_IMAGE, PAUSE_IMAGE
from kubellm.render.output import dump_plain
from kubellm.render.security import container_security, pod_security
from kubellm.spec import GpuSharing
from kubellm.spec.cluster import GpuCluster, NodePool

Obj = dict[str, Any]

POOL_LABEL = "kubellm.dev/gpu-pool"
DEVICE_PLUGIN_CONFIG = "kubellm-device-plugin-config"
MIG_CONFIG = "kubellm-mig-config"
PLACEHOLDER_CLASS = "kubellm-warm-placeholder"
MIG_COMPUTE_SLICES = 7


def _labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "kubellm-cluster",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "kubellm",
        "app.kubernetes.io/managed-by": "kubellm",
    }


def _meta(name: str, namespace: str | None, component: str) -> Obj:
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = _labels(component)
    return meta


def _dump(data: Any) -> str:
    return dump_plain(data)


def check_mig_layout(pool: NodePool, gpu: GpuSpec, index: int) -> None:
    """A MIG layout must use profiles of the GPU and fit its compute slices and per-profile limits."""
    used = 0
    for profile_name, count in pool.mig_layout.items():
        profile = gpu.mig_profile(profile_name)
        if profile is None:
            names = ", ".join(p.name for p in gpu.mig_profiles) or "none: this GPU has no MIG"
            raise UsageError(
                f"pools[{index}].mig_layout: {gpu.name} has no MIG profile {profile_name}",
                f"use one of: {names}",
            )
        if count > profile.max_count:
            raise UsageError(
                f"pools[{index}].mig_layout: at most {profile.max_count} × {profile.name} fit on a {gpu.name}",
                f"lower the count of {profile.name} to {profile.max_count} or less",
            )
        used += profile.compute_slices * count
    if used > MIG_COMPUTE_SLICES:
        raise UsageError(
            f"pools[{index}].mig_layout: the slices need {used} of the {MIG_COMPUTE_SLICES} compute slices of a {gpu.name}",
            "remove slices or pick smaller profiles (e.g. 3g + 2g + 1g + 1g = 7)",
        )


def _device_plugin_config(pool: NodePool, strategy: str) -> Obj:
    config: Obj = {
        "version": "v1",
        "flags": {"migStrategy": strategy if pool.sharing == GpuSharing.MIG else "none"},
    }
    if pool.sharing in (GpuSharing.TIME_SLICING, GpuSharing.MPS):
        key = "timeSlicing" if pool.sharing == GpuSharing.TIME_SLICING else "mps"
        sharing: Obj = {"resources": [{"name": "nvidia.com/gpu", "replicas": pool.replicas}]}
        if key == "timeSlicing":
            sharing = {"renameByDefault": False, "failRequestsGreaterThanOne": True, **sharing}
        config["sharing"] = {key: sharing}
    return config


def _operator_values(spec: GpuCluster, default_config: str) -> Obj:
    op = spec.operator
    driver: Obj = {"enabled": op.driver}
    if op.driver_version:
        driver["version"] = op.driver_version
    uses_mig = any(p.sharing == GpuSharing.MIG for p in spec.pools)
    return {
        "driver": driver,
        "toolkit": {"enabled": op.toolkit},
        "nfd": {"enabled": True},
        "gfd": {"enabled": True},
        "devicePlugin": {"config": {"name": DEVICE_PLUGIN_CONFIG, "default": default_config}},
        "mig": {"strategy": op.mig_strategy if uses_mig else "none"},
        "migManager": {
            "enabled": uses_mig,
            "config": {"name": MIG_CONFIG, "default": "all-disabled"},
        },
        "dcgmExporter": {"enabled": op.dcgm_exporter, "serviceMonitor": {"enabled": False}},
    }


def _node_labels(pool: NodePool) -> dict[str, str]:
    labels = {
        POOL_LABEL: pool.name,
        "nvidia.com/device-plugin.config": pool.name,
        "nvidia.com/mig.config": f"kubellm-{pool.name}" if pool.sharing == GpuSharing.MIG else "all-disabled",
    }
    labels.update(sorted(pool.labels.items()))
    return labels


def _gpu_resource(pool: NodePool, strategy: str) -> tuple[str, int]:
    """The resource one smoke-test pod asks for, and how many the placeholder takes."""
    if pool.sharing == GpuSharing.MIG and strategy == "mixed":
        first = sorted(pool.mig_layout)[0]
        return f"nvidia.com/mig-{first}", 1
    return "nvidia.com/gpu", pool.gpus_per_node if pool.sharing == GpuSharing.EXCLUSIVE else 1


def node_selection(pool: NodePool, gpu: GpuSpec) -> str:
    """A label selector for the pool's nodes as they are before kubellm labels them (never the pool label)."""
    if pool.node_selector:
        return ",".join(f"{k}={v}" for k, v in sorted(pool.node_selector.items()))
    return f"nvidia.com/gpu.product in ({','.join(gpu.product_labels)})"


def label_command(pool: NodePool, gpu: GpuSpec, labels: dict[str, str], taints: list[str]) -> str:
    """kubectl commands that put the pool's labels (and taint) on the nodes it already has."""
    selection = shlex.quote(node_selection(pool, gpu))
    commands = [
        f"kubectl label nodes -l {selection} "
        + " ".join(f"{k}={v}" for k, v in labels.items())
        + " --overwrite"
    ]
    commands += [f"kubectl taint nodes -l {selection} {taint} --overwrite" for taint in taints]
    return " && ".join(commands)


def check_node_selection(pools: list[NodePool], gpus: list[GpuSpec]) -> None:
    """Two pools of one GPU model need node selectors, or the labelling command would label both."""
    seen: dict[str, str] = {}
    for i, (pool, gpu) in enumerate(zip(pools, gpus, strict=True)):
        if pool.node_selector:
            continue
        if gpu.name in seen:
            raise UsageError(
                f"pools[{i}] ({pool.name}) and pool {seen[gpu.name]} both have {gpu.name} GPUs and no node_selector: "
                "their nodes cannot be told apart",
                f"set pools[{i}].node_selector to a label the pool's nodes carry (cloud.google.com/gke-nodepool: "
                "NAME, eks.amazonaws.com/nodegroup: NAME, kubernetes.azure.com/agentpool: NAME)",
            )
        if not gpu.product_labels:
            raise UsageError(
                f"pools[{i}] ({pool.name}): the catalog knows no nvidia.com/gpu.product label for {gpu.name}",
                f"set pools[{i}].node_selector to a label the pool's nodes carry",
            )
        seen[gpu.name] = pool.name


def _pool_guide(pool: NodePool, gpu: GpuSpec, strategy: str) -> Obj:
    labels = _node_labels(pool)
    taints = ["nvidia.com/gpu=present:NoSchedule"] if pool.taint else []
    resource, _ = _gpu_resource(pool, strategy)
    ca_tags = {f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in labels.items()}
    ca_tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] = str(pool.gpus_per_node)
    if pool.taint:
        ca_tags["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"] = "present:NoSchedule"
    return {
        "pool": pool.name,
        "gpu": gpu.name,
        "gpu_product_labels": list(gpu.product_labels),
        "cloud_accelerator_labels": gpu.cloud_label_values(),
        "gpus_per_node": pool.gpus_per_node,
        "sharing": pool.sharing.value,
        "schedulable_resource": resource,
        "node_labels": labels,
        "node_taints": taints,
        "spot": pool.spot,
        "autoscaling": {
            "min_nodes": pool.min_nodes,
            "max_nodes": pool.max_nodes,
            "warm_nodes": pool.warm_nodes,
            "cluster_autoscaler_node_group_tags": ca_tags,
        },
        "label_existing_nodes": label_command(pool, gpu, labels, taints),
    }


def _tolerations(pool: NodePool) -> list[Obj]:
    out: list[Obj] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    if pool.spot:
        out += [
            {
                "key": "cloud.google.com/gke-spot",
                "operator": "Equal",
                "value": "true",
                "effect": "NoSchedule",
            },
            {
                "key": "kubernetes.azure.com/scalesetpriority",
                "operator": "Equal",
                "value": "spot",
                "effect": "NoSchedule",
            },
        ]
    return out


def _smoke_job(spec: GpuCluster, pool: NodePool) -> Obj | None:
    if not spec.smoke_test or pool.nodes == 0:
        return None
    resource, _ = _gpu_resource(pool, spec.operator.mig_strategy)
    name = f"gpu-smoke-{pool.name}"
    selector = {"app.kubernetes.io/component": "gpu-smoke-test", POOL_LABEL: pool.name}
    container = {
        "name": "cuda-check",
        "image": CUDA_SAMPLE_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c"],
        "args": ["nvidia-smi -L && nvidia-smi && cd /cuda-samples && ./vectorAdd"],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "64Mi", resource: "1"},
            "limits": {"cpu": "1", "memory": "256Mi", "ephemeral-storage": "64Mi", resource: "1"},
        },
        "securityContext": container_security(),
    }
    pod: Obj = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "runtimeClassName": spec.operator.runtime_class,
        "securityContext": pod_security(1000),
        "nodeSelector": {POOL_LABEL: pool.name},
        "tolerations": _tolerations(pool),
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": selector}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        },
        "containers": [container],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(name, spec.system_namespace, "gpu-smoke-test"),
        "spec": {
            "completions": pool.nodes,
            "parallelism": pool.nodes,
            "backoffLimit": pool.nodes,
            "activeDeadlineSeconds": 1800,
            "ttlSecondsAfterFinished": 86400,
            "template": {"metadata": {"labels": {**_labels("gpu-smoke-test"), **selector}}, "spec": pod},
        },
    }


def _placeholder(spec: GpuCluster, pool: NodePool) -> Obj | None:
    if pool.warm_nodes == 0:
        return None
    resource, count = _gpu_resource(pool, spec.operator.mig_strategy)
    selector = {"app.kubernetes.io/component": "warm-placeholder", POOL_LABEL: pool.name}
    container = {
        "name": "pause",
        "image": PAUSE_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi", "ephemeral-storage": "16Mi", resource: str(count)},
            "limits": {"cpu": "10m", "memory": "16Mi", "ephemeral-storage": "16Mi", resource: str(count)},
        },
        "securityContext": container_security(),
    }
    metadata = _meta(f"warm-{pool.name}", spec.system_namespace, "warm-placeholder")
    metadata["annotations"] = {
        **metadata.get("annotations", {}),
        "kubellm.dev/lint-ignore": "REL008",
        "kubellm.dev/lint-ignore-reason": "a pause placeholder must give its GPU node up at once when preempted",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": pool.warm_nodes,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {"labels": {**_labels("warm-placeholder"), **selector}},
                "spec": {
                    "priorityClassName": PLACEHOLDER_CLASS,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 0,
                    "securityContext": pod_security(65535),
                    "nodeSelector": {POOL_LABEL: pool.name},
                    "tolerations": _tolerations(pool),
                    "affinity": {
                        "podAntiAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "labelSelector": {"matchLabels": selector},
                                    "topologyKey": "kubernetes.io/hostname",
                                }
                            ]
                        }
                    },
                    "containers": [container],
                },
            },
        },
    }


def _namespace(name: str, level: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/metadata.name": name,
                "pod-security.kubernetes.io/enforce": level,
                "pod-security.kubernetes.io/warn": level,
                "pod-security.kubernetes.io/audit": level,
            },
        },
    }


def render_cluster(spec: GpuCluster, catalog: Catalog | None = None) -> list[Obj]:
    """Every object of the cluster's GPU setup, in apply order."""
    catalog = catalog or default_catalog()
    op = spec.operator
    gpus: list[GpuSpec] = []
    for i, pool in enumerate(spec.pools):
        gpu = catalog.find_gpu(pool.gpu_type)
        if gpu is None:
            raise UsageError(
                f"pools[{i}].gpu_type: unknown GPU {pool.gpu_type!r}", "run `kubellm gpus` for the catalog"
            )
        if pool.sharing == GpuSharing.MIG:
            check_mig_layout(pool, gpu, i)
        gpus.append(gpu)
    check_node_selection(spec.pools, gpus)
    exclusive = [p.name for p in spec.pools if p.sharing == GpuSharing.EXCLUSIVE]
    default_config = exclusive[0] if exclusive else spec.pools[0].name
    values = _operator_values(spec, default_config)
    install = (
        f"helm install gpu-operator nvidia/gpu-operator --namespace {op.namespace} --version {op.chart_version} "
        "-f values.yaml  # values.yaml = data['values.yaml'] of this ConfigMap"
    )
    objects: list[Obj] = [
        _namespace(op.namespace, "privileged"),  # the operator's driver/toolkit pods are privileged
        _namespace(spec.system_namespace, "restricted"),
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": _meta(PLACEHOLDER_CLASS, None, "warm-placeholder"),
            "value": -10,
            "preemptionPolicy": "Never",
            "globalDefault": False,
            "description": "Placeholder pods that keep a warm GPU node; every real pod preempts them.",
        },
        {
            "apiVersion": "node.k8s.io/v1",
            "kind": "RuntimeClass",
            "metadata": _meta(op.runtime_class, None, "runtime"),
            "handler": "nvidia",
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("gpu-operator-values", op.namespace, "gpu-operator")
            | {"annotations": {"kubellm.dev/install": install}},
            "data": {"values.yaml": _dump(values)},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(DEVICE_PLUGIN_CONFIG, op.namespace, "device-plugin"),
            "data": {p.name: _dump(_device_plugin_config(p, op.mig_strategy)) for p in spec.pools},
        },
    ]
    mig_pools = [p for p in spec.pools if p.sharing == GpuSharing.MIG]
    if mig_pools:
        configs: Obj = {"all-disabled": [{"devices": "all", "mig-enabled": False}]}
        for p in mig_pools:
            configs[f"kubellm-{p.name}"] = [
                {"devices": "all", "mig-enabled": True, "mig-devices": dict(sorted(p.mig_layout.items()))}
            ]
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": _meta(MIG_CONFIG, op.namespace, "mig-manager"),
                "data": {"config.yaml": _dump({"version": "v1", "mig-configs": configs})},
            }
        )
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("kubellm-node-pools", spec.system_namespace, "node-pools"),
            "data": {
                f"{p.name}.yaml": _dump(_pool_guide(p, g, op.mig_strategy))
                for p, g in zip(spec.pools, gpus, strict=True)
            },
        }
    )
    objects += [o for p in spec.pools if (o := _smoke_job(spec, p)) is not None]
    objects += [o for p in spec.pools if (o := _placeholder(spec, p)) is not None]
    objects.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("default-deny", spec.system_namespace, "network"),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},  # no rules: deny all
        }
    )
    if op.dcgm_exporter:
        objects.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": _meta("nvidia-dcgm-exporter", op.namespace, "dcgm-exporter"),
                "spec": {
                    "selector": {"matchLabels": {"app": "nvidia-dcgm-exporter"}},
                    "namespaceSelector": {"matchNames": [op.namespace]},
                    "endpoints": [{"port": "gpu-metrics", "path": "/metrics", "interval": "15s"}],
                },
            }
        )
    return objects
