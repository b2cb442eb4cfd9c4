"""Model cache: where the weights live in the pod, the cache claims, the prefetch Job and its init containers.

The weights are always served from a local, verified path under /models, so engines never reach
the Hub at start (``HF_HUB_OFFLINE=1``). The cache modes (``cache_mode``):

- ``per-replica`` (default: ``pvc`` + ``ReadWriteOnce``): one claim per replica from the StatefulSet's (or
  LeaderWorkerSet's) ``volumeClaimTemplates``. It binds on every provider's default block storage; each
  replica's init container downloads once, and the claim outlives restarts, rollouts and scale-to-zero.
- ``shared`` (``pvc`` + ``ReadWriteMany``): one claim for every replica, filled once by a prefetch Job;
  needs a class that offers ReadWriteMany (Filestore, EFS, Azure Files), named in ``storage.storage_class``.
- ``node`` (``hostPath``): a node directory; each pod's init container downloads (once per node) and verifies.
- ``pod`` (``none``): a per-pod emptyDir sized for the weights; the init container downloads every start.
- ``existing``: a ``pvc://claim/path`` source mounts a filled claim as is (no download), read-only — the way
  to use a ReadOnlyMany volume such as GKE Hyperdisk ML.
- ``object-store``: a ``gs://`` or ``s3://`` source (kubellm.render.object_store).
"""

from __future__ import annotations

import json
from typing import Any

from kubellm.errors import UsageError
from kubellm.render.context import MODELS_DIR, RenderContext
from kubellm.render.images import PREFETCH_IMAGE
from kubellm.render.object_store import bucket_source, bucket_volume, object_store_model_path
from kubellm.render.prefetch import MARKER, PREFETCH_SCRIPT, WAIT_SCRIPT
from kubellm.render.security import container_security, pod_security
from kubellm.spec import LLMService

Obj = dict[str, Any]


def hf_repo(spec: LLMService) -> str:
    """'org/name' of an hf:// source (a GGUF file path after it is left out)."""
    return "/".join(spec.model.source_id.split("/")[:2])


def gguf_file(spec: LLMService) -> str | None:
    """The GGUF file a llama.cpp service serves: 'hf://org/repo/<file>.gguf', else the one in model.checksums."""
    parts = spec.model.source_id.split("/")
    if spec.model.source.startswith("hf://") and len(parts) > 2 and parts[-1].endswith(".gguf"):
        return "/".join(parts[2:])
    names = sorted(n for n in spec.model.checksums if n.endswith(".gguf"))
    return names[0] if names else None


def model_path(spec: LLMService) -> str:
    """Path of the weights inside the pod (a directory, or the GGUF file for llama.cpp)."""
    source = spec.model.source
    if source.startswith("pvc://"):
        _, _, path = source[len("pvc://") :].partition("/")
        return f"{MODELS_DIR}/{path}".rstrip("/")
    if bucket_source(spec) is not None:
        return object_store_model_path(spec)
    if not source.startswith("hf://"):
        raise UsageError(
            f"model.source {source!r}: render downloads from the Hugging Face Hub, a gs:// or s3:// bucket, or "
            "mounts a PVC",
            "use 'hf://<org>/<name>' with model.revision, gs://<bucket>/<path>, s3://<bucket>/<path>, or copy the "
            "weights to a PVC and use 'pvc://<claim>/<path>'",
        )
    base = f"{MODELS_DIR}/hf/{hf_repo(spec)}/{spec.model.revision or 'main'}"
    if spec.engine.name.value == "llamacpp":
        gguf = gguf_file(spec)
        if gguf is None:
            raise UsageError(
                "model.source: llama.cpp serves one GGUF file, and neither the source nor model.checksums names one",
                "name the file in the source, e.g. "
                "'hf://microsoft/Phi-3-mini-4k-instruct-gguf/Phi-3-mini-4k-instruct-q4.gguf'",
            )
        return f"{base}/{gguf}"
    return base


def download_dir(ctx: RenderContext) -> str:
    return f"{MODELS_DIR}/hf/{hf_repo(ctx.spec)}/{ctx.spec.model.revision or 'main'}"


def prefetches(ctx: RenderContext) -> bool:
    return ctx.spec.model.source.startswith("hf://")


def cache_mode(spec: LLMService) -> str:
    """per-replica, shared, node, pod, existing or object-store (see the module docstring)."""
    source = spec.model.source
    if source.startswith("pvc://"):
        return "existing"
    if source.startswith(("gs://", "s3://")):
        return "object-store"
    mode = spec.storage.model_cache
    if mode == "hostPath":
        return "node"
    if mode == "none":
        return "pod"
    return "per-replica" if spec.storage.access_mode == "ReadWriteOnce" else "shared"


def per_replica_cache(ctx: RenderContext) -> bool:
    return prefetches(ctx) and cache_mode(ctx.spec) == "per-replica"


def shared_cache(ctx: RenderContext) -> bool:
    return prefetches(ctx) and cache_mode(ctx.spec) == "shared"


def models_volume(ctx: RenderContext) -> Obj | None:
    """The pod volume that holds the weights (named 'models'); None when a volumeClaimTemplate provides it."""
    spec = ctx.spec
    if spec.model.source.startswith("pvc://"):
        claim = spec.model.source[len("pvc://") :].split("/", 1)[0]
        return {"name": "models", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}
    mode = spec.storage.model_cache
    if bucket_source(spec) is not None:
        return bucket_volume(ctx)  # None when the engine streams from the bucket
    if per_replica_cache(ctx):
        return None
    if mode == "pvc" and prefetches(ctx):
        return {"name": "models", "persistentVolumeClaim": {"claimName": f"{ctx.name}-models"}}
    if mode == "hostPath":
        return {"name": "models", "hostPath": {"path": spec.storage.host_path, "type": "DirectoryOrCreate"}}
    return {"name": "models", "emptyDir": {"sizeLimit": f"{ctx.plan.resources.model_cache_gib}Gi"}}


def _claim_spec(ctx: RenderContext, access_mode: str) -> Obj:
    spec: Obj = {
        "accessModes": [access_mode],
        "resources": {"requests": {"storage": f"{ctx.plan.resources.model_cache_gib}Gi"}},
        "volumeMode": "Filesystem",
    }
    if ctx.spec.storage.storage_class:
        spec["storageClassName"] = ctx.spec.storage.storage_class
    return spec


def cache_pvc(ctx: RenderContext) -> Obj | None:
    """The one claim every replica shares (access_mode ReadWriteMany)."""
    if not shared_cache(ctx):
        return None
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": ctx.meta(f"{ctx.name}-models", "model-cache"),
        "spec": _claim_spec(ctx, ctx.spec.storage.access_mode),
    }


def cache_claim_templates(ctx: RenderContext) -> list[Obj]:
    """The per-replica cache claim (a StatefulSet or LeaderWorkerSet volumeClaimTemplate named 'models')."""
    if not per_replica_cache(ctx):
        return []
    return [
        {
            "metadata": {"name": "models", "labels": ctx.labels("model-cache")},
            "spec": _claim_spec(ctx, "ReadWriteOnce"),
        }
    ]


# Caches outlive scale-down (a replica that comes back, from zero too, finds its weights) and, like the shared
# cache claim, the service's deletion: remove them with
# kubectl delete pvc -l app.kubernetes.io/instance=<name>,app.kubernetes.io/component=model-cache
CLAIM_RETENTION = {"whenDeleted": "Retain", "whenScaled": "Retain"}


def prefetch_configmap(ctx: RenderContext) -> Obj | None:
    if not prefetches(ctx):
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.meta(f"{ctx.name}-prefetch", "prefetch"),
        "data": {"prefetch.py": PREFETCH_SCRIPT},
    }


def _prefetch_env(ctx: RenderContext) -> list[Obj]:
    spec = ctx.spec
    gguf = gguf_file(spec) if spec.engine.name.value == "llamacpp" else None
    env: list[Obj] = [
        {"name": "KUBELLM_REPO", "value": hf_repo(spec)},
        {"name": "KUBELLM_REVISION", "value": spec.model.revision or "main"},
        {"name": "KUBELLM_DEST", "value": download_dir(ctx)},
        {"name": "KUBELLM_CHECKSUMS", "value": json.dumps(spec.model.checksums, sort_keys=True)},
    ]
    if gguf:
        env.append({"name": "KUBELLM_FILES", "value": gguf})
    if spec.security.hf_token_secret:
        env.append(
            {
                "name": "HF_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": spec.security.hf_token_secret, "key": "token"}},
            }
        )
    env.append({"name": "PYTHONUNBUFFERED", "value": "1"})
    return env


def prefetch_container(ctx: RenderContext) -> Obj:
    """The container that downloads and verifies the weights (Job or init container)."""
    return {
        "name": "prefetch",
        "image": PREFETCH_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "/opt/kubellm/prefetch.py"],
        "env": _prefetch_env(ctx),
        "resources": {
            "requests": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"},
            "limits": {"cpu": "2", "memory": "1Gi", "ephemeral-storage": "1Gi"},
        },
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "models", "mountPath": MODELS_DIR},
            {"name": "prefetch-script", "mountPath": "/opt/kubellm", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def prefetch_volumes(ctx: RenderContext) -> list[Obj]:
    return [
        {"name": "prefetch-script", "configMap": {"name": f"{ctx.name}-prefetch", "defaultMode": 0o444}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
    ]


def wait_container(ctx: RenderContext, name: str, directory: str, marker: str = MARKER) -> Obj:
    """An init container that blocks until a marker file exists (the prefetch or engine build finished)."""
    script = WAIT_SCRIPT.replace(MARKER, marker)
    return {
        "name": name,
        "image": PREFETCH_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", script, "wait"],
        "args": [directory],
        "resources": {
            "requests": {"cpu": "10m", "memory": "32Mi", "ephemeral-storage": "16Mi"},
            "limits": {"cpu": "100m", "memory": "32Mi", "ephemeral-storage": "16Mi"},
        },
        "securityContext": container_security(),
        "volumeMounts": [{"name": "models", "mountPath": MODELS_DIR, "readOnly": True}],
    }


def prefetch_job(ctx: RenderContext) -> Obj | None:
    """The Job that fills the shared cache claim before any replica starts."""
    if not shared_cache(ctx):
        return None
    pod: Obj = {
        "serviceAccountName": ctx.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "OnFailure",
        "securityContext": pod_security(ctx.spec.security.run_as_user),
        "containers": [prefetch_container(ctx)],
        "volumes": [v for v in (models_volume(ctx), *prefetch_volumes(ctx)) if v is not None],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": ctx.meta(f"{ctx.name}-prefetch", "prefetch"),
        "spec": {
            "backoffLimit": 6,
            "activeDeadlineSeconds": max(3600, ctx.plan.resources.model_cache_gib * 30),  # ≥ 35 MB/s
            "ttlSecondsAfterFinished": 86400,
            "template": {"metadata": {"labels": ctx.labels("prefetch")}, "spec": pod},
        },
    }
