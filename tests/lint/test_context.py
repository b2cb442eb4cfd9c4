"""Where the linter reads the GPU from, and how envFrom/configMapKeyRef ConfigMaps feed engine settings."""

from __future__ import annotations

from kubellm.catalog import default_catalog
from kubellm.lint.context import LintContext, selector_matches
from kubellm.lint.loader import parse_text

from .cases import lint_yaml

POD = """apiVersion: v1
kind: Pod
metadata: {name: p, namespace: llm}
spec:
  SCHED
  containers:
    - name: c
      image: vllm/vllm-openai:v0.10.1.1
      args: [serve, meta-llama/Llama-3.1-8B-Instruct, --max-model-len=8192]
      resources: {limits: {RES: 1}}
"""


def _gpu(sched: str, res: str = "nvidia.com/gpu", override: str | None = None) -> str | None:
    objs = parse_text(POD.replace("SCHED", sched).replace("RES", res), "p.yaml").objects
    gpu = default_catalog().gpu(override) if override else None
    ctx = LintContext(objs, default_catalog(), gpu)
    choice = ctx.gpu_for(ctx.pods[0])
    return None if choice is None else f"{choice.smallest.name}|{choice.mig_profile}"


def test_gpu_from_gfd_product_label() -> None:
    assert _gpu("nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}") == "H100-SXM-80GB|None"


def test_gpu_from_required_node_affinity_and_karpenter_label() -> None:
    sched = (
        "affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: "
        "[{matchExpressions: [{key: karpenter.k8s.aws/instance-gpu-name, operator: In, values: [l40s]}]}]}}}"
    )
    assert _gpu(sched) == "L40S|None"


def test_gpu_from_mig_resource_and_override() -> None:
    assert _gpu("nodeSelector: {}", res="nvidia.com/mig-3g.40gb", override=None) is not None
    assert (
        _gpu("nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}", override="h100")
        == "H100-SXM-80GB|None"
    )


def test_no_gpu_evidence_means_no_gpu() -> None:
    assert _gpu("nodeSelector: {kubernetes.io/os: linux}") is None


def test_selector_semantics() -> None:
    assert selector_matches(
        {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}, {"app": "b"}
    )
    assert not selector_matches({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"app": "b"})
    assert selector_matches({"app": "a"}, {"app": "a", "x": "y"}) and not selector_matches(
        {"app": "a"}, {"app": "b"}
    )


def test_env_from_configmap_feeds_engine_and_cache_dir() -> None:
    text = """apiVersion: v1
kind: ConfigMap
metadata: {name: tgi-config}
data: {MODEL_ID: tiiuae/falcon-7b, NUM_SHARD: "2", HUGGINGFACE_HUB_CACHE: /data}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: tgi}
spec:
  strategy: {type: Recreate}
  selector: {matchLabels: {app: tgi}}
  template:
    metadata: {labels: {app: tgi}}
    spec:
      containers:
        - name: tgi
          image: ghcr.io/huggingface/text-generation-inference:2.2.0
          envFrom: [{configMapRef: {name: tgi-config}}]
          securityContext: {readOnlyRootFilesystem: true, runAsUser: 1000}
          resources: {limits: {nvidia.com/gpu: 1, memory: 32Gi}}
          volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: models}}]
"""
    rules = {f.rule: f.message for f in lint_yaml(text).findings}
    assert "GPU003" in rules and "2 GPUs" in rules["GPU003"]  # NUM_SHARD 2 from the ConfigMap, 1 GPU
    assert "GPU016" not in rules  # the hub cache (from the ConfigMap) is on a writable volume
    assert "GPU005" in rules  # two shards need /dev/shm
