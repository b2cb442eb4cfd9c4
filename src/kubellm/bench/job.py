"""`kubellm bench --render-job`: a Kubernetes Job (and its ConfigMap) that runs the benchmark in-cluster.

Each of ``pods`` pods runs the same configuration with the load divided among them (concurrency levels
rounded up, rates divided), prints its results as JSON on stdout, and `kubellm bench merge` combines
the files collected with ``kubectl logs``. Objects are plain dicts for a YAML dumper.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from kubellm.errors import UsageError
from kubellm.spec.bench import BenchConfig

CONFIG_DIR = "/etc/kubellm-bench"
MAX_EMBEDDED_BYTES = 900 * 1024  # ConfigMaps hold at most 1 MiB
DEFAULT_KEY_ENV = "KUBELLM_API_KEY"


def per_pod_config(config: BenchConfig, pods: int) -> BenchConfig:
    """The configuration one of ``pods`` pods runs: the load split evenly."""
    return config.model_copy(
        update={
            "concurrency": [max(1, math.ceil(c / pods)) for c in config.concurrency],
            "rate": [r / pods for r in config.rate],
            "sweep_max": max(1.0, config.sweep_max / pods),
        }
    )


def render_job(
    config: BenchConfig,
    *,
    pods: int = 1,
    image: str,
    name: str = "kubellm-bench",
    namespace: str = "default",
    api_key_secret: str | None = None,
    cpu: str = "1",
    memory: str = "1Gi",
) -> list[dict[str, Any]]:
    """A ConfigMap with the per-pod config (and the dataset, when small) and an Indexed Job of ``pods`` pods."""
    if pods < 1:
        raise UsageError("--pods must be at least 1", "give --pods 1 or more")
    if config.tokenizer:
        raise UsageError(
            "--tokenizer cannot be shipped in a ConfigMap (tokenizer files exceed 1 MiB)",
            "drop --tokenizer (server usage counts are used) or bake the file into the image",
        )
    data: dict[str, str] = {}
    pod_config = per_pod_config(config, pods)
    if config.dataset:
        path = Path(config.dataset)
        if not path.is_file() or path.stat().st_size > MAX_EMBEDDED_BYTES:
            raise UsageError(
                f"{path}: dataset missing or larger than {MAX_EMBEDDED_BYTES // 1024} KiB",
                "use a smaller ShareGPT sample, or a synthetic workload, for in-cluster runs",
            )
        data["dataset.json"] = path.read_text(encoding="utf-8")
        pod_config = pod_config.model_copy(update={"dataset": f"{CONFIG_DIR}/dataset.json"})
    key_env = config.api_key_env or DEFAULT_KEY_ENV
    if api_key_secret:
        pod_config = pod_config.model_copy(update={"api_key_env": key_env})
    data["bench.json"] = pod_config.model_dump_json(exclude_defaults=True)
    labels = {
        "app.kubernetes.io/name": "kubellm-bench",
        "app.kubernetes.io/managed-by": "kubellm",
        "job": name,
    }
    config_map: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "data": data,
    }
    container: dict[str, Any] = {
        "name": "bench",
        "image": image,
        "command": ["kubellm", "bench", "--config", f"{CONFIG_DIR}/bench.json", "--json"],
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}},
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if api_key_secret:
        container["env"] = [
            {"name": key_env, "valueFrom": {"secretKeyRef": {"name": api_key_secret, "key": "api-key"}}}
        ]
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {
                "kubellm.dev/bench-collect": (
                    f"for p in $(kubectl -n {namespace} get pods -l job={name} -o name); do "
                    f"kubectl -n {namespace} logs $p > $(basename $p).json; done; kubellm bench merge *.json --out merged"
                )
            },
        },
        "spec": {
            "completions": pods,
            "parallelism": pods,
            "completionMode": "Indexed",
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "labelSelector": {"matchLabels": {"job": name}},
                                        "topologyKey": "kubernetes.io/hostname",
                                    },
                                }
                            ]
                        }
                    },
                    "containers": [container],
                    "volumes": [{"name": "config", "configMap": {"name": name}}],
                },
            },
        },
    }
    return [config_map, job]
