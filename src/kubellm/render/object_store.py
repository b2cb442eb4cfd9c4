"""gs:// and s3:// model sources: streamed by the engine, or mounted by the provider's bucket CSI driver.

- ``streamer``: vLLM and SGLang read the safetensors straight from the bucket with the Run:ai Model
  Streamer (``--load-format runai_streamer``, the model argument is the bucket URL); nothing is cached,
  the engine needs HTTPS egress and the cloud identity of its ServiceAccount.
- ``csi``: the bucket is mounted read-only at /models — GKE's Cloud Storage FUSE CSI driver (an inline
  ``csi`` volume; the pod annotation ``gke-gcsfuse/volumes`` injects the FUSE sidecar), or Mountpoint for
  Amazon S3 on EKS (static provisioning: a PersistentVolume and its claim, authenticated as the pod).

Provider facts (drivers, annotations) come from ``kubellm.catalog.providers``; sources in providers.yaml.
"""

from __future__ import annotations

import hashlib
from typing import Any

from kubellm.catalog.providers import provider
from kubellm.errors import UsageError
from kubellm.render.context import MODELS_DIR, RenderContext
from kubellm.spec import LLMService

Obj = dict[str, Any]
STREAMING_ENGINES = ("vllm", "sglang")
STREAMER_LOAD_FORMAT = "runai_streamer"


def bucket_source(spec: LLMService) -> tuple[str, str, str] | None:
    """(scheme, bucket, path) of a gs:// or s3:// source, else None."""
    for scheme in ("gs", "s3"):
        prefix = f"{scheme}://"
        if spec.model.source.startswith(prefix):
            bucket, _, path = spec.model.source[len(prefix) :].partition("/")
            return scheme, bucket, path.strip("/")
    return None


def object_store_mode(spec: LLMService) -> str | None:
    """'streamer', 'csi', or None for a source that is not a bucket; refuses what cannot work, with the fix."""
    found = bucket_source(spec)
    if found is None:
        return None
    scheme, bucket, _ = found
    if not bucket:
        raise UsageError(
            f"model.source {spec.model.source!r} names no bucket", f"write it as {scheme}://<bucket>/<path>"
        )
    engine = spec.engine.name.value
    wanted = spec.storage.object_store_access
    p = provider(spec.placement.provider)
    csi = p.object_storage.get(scheme)
    mode = wanted if wanted != "auto" else ("streamer" if engine in STREAMING_ENGINES else "csi")
    if mode == "streamer" and engine not in STREAMING_ENGINES:
        raise UsageError(
            f"storage.object_store_access streamer: {engine} cannot stream weights from {scheme}://",
            "use engine.name vllm or sglang (Run:ai Model Streamer), or object_store_access: csi on a provider "
            "with a bucket CSI driver (GKE for gs://, EKS for s3://)",
        )
    if mode == "csi" and csi is None:
        where = [n for n in ("gke", "eks") if scheme in provider(n).object_storage]
        raise UsageError(
            f"model.source {scheme}:// on placement.provider {p.name}: kubellm knows no {scheme}:// CSI driver there",
            f"use engine.name vllm or sglang (they stream {scheme}:// with the Run:ai Model Streamer), "
            f"placement.provider {' or '.join(where)}, or copy the weights to a PVC and use pvc://<claim>/<path>",
        )
    return mode


def streams(ctx: RenderContext) -> bool:
    return object_store_mode(ctx.spec) == "streamer"


def mounts_bucket(ctx: RenderContext) -> bool:
    return object_store_mode(ctx.spec) == "csi"


def downloads_from_bucket(ctx: RenderContext) -> bool:
    """Whether the engine pod itself reaches the bucket (the streamer, or GKE's FUSE sidecar in the pod)."""
    if streams(ctx):
        return True
    found = bucket_source(ctx.spec)
    if found is None or not mounts_bucket(ctx):
        return False
    return not provider(ctx.spec.placement.provider).object_storage[found[0]].static_only


def object_store_model_path(spec: LLMService) -> str:
    """What the engine is pointed at: the bucket URL (streamer) or the mounted prefix (CSI)."""
    found = bucket_source(spec)
    assert found is not None
    scheme, bucket, path = found
    if object_store_mode(spec) == "streamer":
        return f"{scheme}://{bucket}/{path}".rstrip("/")
    return MODELS_DIR  # the CSI mount exposes the prefix at the mount point


def _claim_name(ctx: RenderContext) -> str:
    return f"{ctx.name}-bucket"


def _pv_name(ctx: RenderContext) -> str:
    digest = hashlib.sha256(f"{ctx.namespace}/{ctx.name}".encode()).hexdigest()[:8]
    return f"{ctx.name}-bucket-{digest}"  # cluster-scoped: unique across namespaces


def bucket_volume(ctx: RenderContext) -> Obj | None:
    """The pod volume 'models' that mounts the bucket (CSI mode)."""
    if not mounts_bucket(ctx):
        return None
    found = bucket_source(ctx.spec)
    assert found is not None
    scheme, bucket, path = found
    driver = provider(ctx.spec.placement.provider).object_storage[scheme]
    if driver.static_only:
        return {"name": "models", "persistentVolumeClaim": {"claimName": _claim_name(ctx), "readOnly": True}}
    options = [
        "implicit-dirs",
        f"uid={ctx.spec.security.run_as_user}",
        f"gid={ctx.spec.security.run_as_user}",
    ]
    if path:
        options.append(f"only-dir={path}")
    return {
        "name": "models",
        "csi": {
            "driver": driver.csi_driver,
            "readOnly": True,
            "volumeAttributes": {"bucketName": bucket, "mountOptions": ",".join(options)},
        },
    }


def bucket_pod_annotations(ctx: RenderContext) -> dict[str, str]:
    """Annotations the bucket's CSI driver needs on the pod (GKE: inject the Cloud Storage FUSE sidecar)."""
    if not mounts_bucket(ctx):
        return {}
    found = bucket_source(ctx.spec)
    assert found is not None
    return dict(provider(ctx.spec.placement.provider).object_storage[found[0]].pod_annotations)


def bucket_objects(ctx: RenderContext) -> list[Obj]:
    """A static PersistentVolume and its claim for drivers that only provision statically (Mountpoint for S3)."""
    if not mounts_bucket(ctx):
        return []
    found = bucket_source(ctx.spec)
    assert found is not None
    scheme, bucket, path = found
    driver = provider(ctx.spec.placement.provider).object_storage[scheme]
    if not driver.static_only:
        return []
    uid = str(ctx.spec.security.run_as_user)
    options = ["allow-other", f"uid={uid}", f"gid={uid}", "read-only"]
    if path:
        options.append(f"prefix={path}/")
    size = f"{ctx.plan.resources.model_cache_gib}Gi"  # required by the API, ignored by the driver
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": _pv_name(ctx), "labels": ctx.labels("model-cache")},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadOnlyMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "claimRef": {"namespace": ctx.namespace, "name": _claim_name(ctx)},
            "mountOptions": options,
            "csi": {
                "driver": driver.csi_driver,
                "volumeHandle": _pv_name(ctx),
                "volumeAttributes": {"bucketName": bucket, "authenticationSource": "pod"},
            },
        },
    }
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": ctx.meta(_claim_name(ctx), "model-cache"),
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": "",
            "volumeName": _pv_name(ctx),
            "resources": {"requests": {"storage": size}},
        },
    }
    return [pv, pvc]
