"""More failing and passing cases per rule, boundaries included: with the first pair in cases.py every rule
has at least three of each. A boundary pair (0.98 passes, 0.99 fails) makes a mutation that drops or moves
the bound fail a test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from .cases import (
    DELETE,
    KEDA,
    KUBEAI,
    LWS,
    Objs,
    _sidecar,
    add,
    ctr,
    drop_kind,
    edit,
    find,
    gpus,
    no_gpu,
    pod,
    replace_args,
    set_path,
    tp,
)

Builder = Callable[[], Objs]
Change = Callable[[Objs], object]


def objs(text: str) -> Builder:
    return lambda: [d for d in yaml.safe_load_all(text) if d]


def args8b(*extra: str) -> Change:
    return replace_args("serve", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len=8192", *extra)


def setenv(name: str, value: Any) -> Change:
    return lambda o: ctr(o)["env"].append({"name": name, "value": value})


def limit(key: str, value: Any) -> Change:
    def change(o: Objs) -> None:
        for section in ("requests", "limits"):
            if value is DELETE:
                ctr(o)["resources"][section].pop(key, None)
            else:
                ctr(o)["resources"][section][key] = value

    return change


def shm(size: Any) -> Change:
    def change(o: Objs) -> None:
        empty = pod(o)["volumes"][1]["emptyDir"]
        if size is DELETE:
            empty.pop("sizeLimit", None)
        else:
            empty["sizeLimit"] = size

    return change


def node(key: str, value: str) -> Change:
    return set_path("pod", "nodeSelector", {key: value})


def kubeai(
    args: str = "--max-model-len=8192", profile: str = "nvidia-gpu-l4:1", cache: str = "efs"
) -> Builder:
    text = KUBEAI.replace("ARGS", args).replace("nvidia-gpu-l4:1", profile)
    text = text.replace("CACHE", cache) if cache else text.replace("  cacheProfile: CACHE\n", "")
    return objs(text)


def lws(caps: str = "IPC_LOCK", extra_limits: str = "") -> Builder:
    text = LWS.replace("CAPS", caps)
    if extra_limits:
        text = text.replace("memory: 1000Gi}", f"memory: 1000Gi, {extra_limits}}}")
    return objs(text)


NIM_RUNTIME = """
apiVersion: serving.kserve.io/v1alpha1
kind: ClusterServingRuntime
metadata: {name: nim-llama}
spec:
  containers:
    - name: kserve-container
      image: nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.0
      env: [{name: NIM_CACHE_PATH, value: CACHE_DIR}]
  supportedModelFormats: [{name: nim-llama, autoSelect: true}]
"""


def tz_host_path(path: str, read_only: bool) -> Builder:
    """The node's time zone mounted into the engine container from a hostPath."""

    def change(o: Objs) -> None:
        pod(o)["volumes"].append({"name": "tz", "hostPath": {"path": path, "type": "File"}})
        ctr(o)["volumeMounts"].append({"name": "tz", "mountPath": "/etc/localtime", "readOnly": read_only})

    return edit(change)


def nim_runtime(cache: str) -> Builder:
    """A KServe runtime template for NIM whose model cache is at ``cache``."""
    return objs(NIM_RUNTIME.replace("CACHE_DIR", cache))


SGLANG_LWS = """
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {name: sgl, namespace: llm}
spec:
  leaderWorkerTemplate:
    size: 2
    workerTemplate:
      spec:
        containers:
          - name: sglang
            image: lmsysorg/sglang:v0.4.9
            command: [python3, -m, sglang.launch_server, --model-path, Qwen/Qwen3-8B, --tp, "TP",
                      --nnodes, $(LWS_GROUP_SIZE), --node-rank, $(LWS_WORKER_INDEX), --dist-init-addr, "$(LWS_LEADER_ADDRESS):20000"]
            resources: {limits: {nvidia.com/gpu: GPUS, memory: 64Gi}}
"""


def sglang_lws(tp_size: int, gpus_per_pod: int) -> Builder:
    return objs(SGLANG_LWS.replace('"TP"', f'"{tp_size}"').replace("GPUS", str(gpus_per_pod)))


DYNAMO = """
apiVersion: nvidia.com/v1alpha1
kind: DynamoGraphDeployment
metadata: {name: dgd, namespace: llm}
spec:
  services:
    Frontend: {componentType: frontend, replicas: 1, extraPodSpec: {mainContainer: {image: nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.8.0}}}
    decode:
      componentType: worker
      replicas: 1
      multinode: {nodeCount: NODES}
      resources: {limits: {gpu: "GPUS", memory: 64Gi}}
      extraPodSpec:
        mainContainer:
          image: nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.8.0
          command: [python3, -m, dynamo.vllm]
          args: [--model, Qwen/Qwen3-8B, --tensor-parallel-size, "TP", --max-model-len, "8192"]
"""


def dynamo(nodes: int, gpus_per_pod: int, tp_size: int) -> Builder:
    text = (
        DYNAMO.replace("NODES", str(nodes))
        .replace('"GPUS"', f'"{gpus_per_pod}"')
        .replace('"TP"', f'"{tp_size}"')
    )
    return objs(text)


RAY = """
apiVersion: ray.io/v1
kind: KIND
metadata: {name: ray, namespace: llm}
spec:
  SPEC
"""
RAY_CLUSTER = """headGroupSpec:
    serviceType: TYPE
    rayStartParams: {}
    template: {spec: {containers: [{name: ray-head, image: 'rayproject/ray:2.52.0'}]}}
  workerGroupSpecs: []"""


def ray(service_type: str = "ClusterIP", kind: str = "RayCluster") -> Builder:
    cluster = RAY_CLUSTER.replace("TYPE", service_type)
    if kind == "RayService":
        cluster = "rayClusterConfig:\n    " + cluster.replace("\n  ", "\n    ")
    return objs(RAY.replace("KIND", kind).replace("SPEC", cluster))


def pvc(modes: str, extra: str = "") -> Change:
    return add(
        f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: llama-models, namespace: llm}}\n"
        f"spec: {{accessModes: [{modes}], resources: {{requests: {{storage: 100Gi}}}}{extra}}}"
    )


def local_pv(source: str) -> Change:
    """A PersistentVolume on one node's disk (`local` or `hostPath`), bound by name."""
    return add(
        "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: models-pv}\n"
        f"spec: {{capacity: {{storage: 100Gi}}, accessModes: [ReadWriteOnce], {source}: {{path: /mnt/models}}, "
        "nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: "
        "[{key: kubernetes.io/hostname, operator: In, values: [gpu-1]}]}]}}}"
    )


def storage_class(name: str, provisioner: str) -> Change:
    return add(
        f"apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {{name: {name}}}\nprovisioner: {provisioner}"
    )


ADAPTER = """
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata: {name: lora, namespace: llm}
spec:
  baseModel: llama
  podSelector: {matchLabels: {app: APP}}
  artifactURL: huggingface://org/lora
"""


def adapter(app: str = "llama") -> Change:
    return add(ADAPTER.replace("APP", app))


def keda(query: str, kind: str = "prometheus", minimum: int = 1) -> Change:
    quoted = "'" + query.replace("'", "''") + "'"  # a YAML single-quoted scalar keeps the PromQL's quotes
    text = KEDA.replace("MIN", str(minimum)).replace('"sum(vllm:num_requests_waiting)"', quoted)
    return add(text.replace("type: prometheus", f"type: {kind}"))


def spec_of(kind: str, **spec: Any) -> Change:
    """Update the spec of the set's object of ``kind``; a DELETE value removes the field."""

    def change(o: Objs) -> None:
        target = find(o, kind)["spec"]
        for key, value in spec.items():
            if value is DELETE:
                target.pop(key, None)
            else:
                target[key] = value

    return change


def hpa(**spec: Any) -> Change:
    return spec_of("HorizontalPodAutoscaler", **spec)


def service(**spec: Any) -> Change:
    return spec_of("Service", **spec)


def policy(**spec: Any) -> Change:
    return spec_of("NetworkPolicy", **spec)


def pdb(**spec: Any) -> Change:
    return spec_of("PodDisruptionBudget", **spec)


def probe(kind: str, **fields: Any) -> Change:
    return lambda o: ctr(o)[kind].update(fields)


def caps(*names: str) -> Change:
    return set_path("ctr", "securityContext.capabilities.add", list(names))


ROUTE = "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: r, namespace: llm}\nspec: {to: {kind: Service, name: SVC}}"
INGRESS = (
    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: llm}\n"
    "spec: {rules: [{host: a.example, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: llama-engine, port: {number: 8000}}}}]}}]}"
)
INGRESS_ROUTE = (
    "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: t, namespace: llm}\n"
    "spec: {routes: [{kind: Rule, match: Host(`a.example`), MIDDLEWARES services: [{name: llama-engine, port: 8000}]}]}"
)
GATEWAY_POD = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: gw, namespace: llm}\nspec: {selector: {matchLabels: {app: gw}}, "
    "template: {metadata: {labels: {app: gw}}, spec: {containers: [{name: gw, image: 'ghcr.io/x/gw:1.0'}]}}}\n---\n"
    "apiVersion: v1\nkind: Service\nmetadata: {name: gw, namespace: llm}\nspec: {selector: {app: gw}, ports: [{port: 80}]}"
)


ISVC_GPU = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: llama, namespace: llm, annotations: {ANNOTATION}}
spec:
  predictor:
    minReplicas: MIN
    model:
      modelFormat: {name: huggingface}
      storageUri: hf://meta-llama/Meta-Llama-3-8B-Instruct
      resources: {limits: {LIMITS}}
"""


def isvc(
    annotation: str = "a: b", minimum: int = 1, limits: str = "nvidia.com/gpu: 1, memory: 24Gi"
) -> Builder:
    return objs(
        ISVC_GPU.replace("ANNOTATION", annotation).replace("MIN", str(minimum)).replace("LIMITS", limits)
    )


TIME_SLICED = """
apiVersion: v1
kind: ConfigMap
metadata: {name: plugin-config, namespace: llm}
data:
  any: |-
    version: v1
    sharing:
      timeSlicing:
        resources:
          - name: nvidia.com/gpu
            replicas: REPLICAS
"""

SA_AUTOMOUNT = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: llama, namespace: llm}\nautomountServiceAccountToken: VALUE"

# rule id → (more cases that must fire it, more cases that must not)
MORE: dict[str, tuple[list[Builder], list[Builder]]] = {
    "GPU001": (
        [
            edit(no_gpu, replace_args("serve", "Qwen/Qwen3-8B", "--max-model-len=8192")),
            edit(
                no_gpu,
                set_path("ctr", "image", "ghcr.io/huggingface/text-generation-inference:3.3.4"),
                replace_args("--model-id", "Qwen/Qwen3-8B"),
            ),
            # an accelerator's name in a label does not give the container one: only a resource does
            edit(
                no_gpu, set_path("pod", "nodeSelector", {"node.kubernetes.io/instance-type": "trn1.32xlarge"})
            ),
        ],
        [
            edit(no_gpu, args8b("--device", "cpu")),
            edit(no_gpu, set_path("ctr", "image", "vllm/vllm-openai-cpu:v0.10.1.1")),
            edit(
                no_gpu,
                set_path("pod", "resourceClaims", [{"name": "gpu", "resourceClaimTemplateName": "one-gpu"}]),
            ),
            edit(no_gpu, limit("aws.amazon.com/neuron", 1)),  # vLLM on Trainium / Inferentia
            edit(no_gpu, limit("google.com/tpu", 4)),
        ],
    ),
    "GPU002": (
        [
            edit(limit("nvidia.com/gpu", "0.5")),
            edit(lambda o: ctr(o)["resources"]["limits"].pop("nvidia.com/gpu")),
        ],
        [edit(lambda o: ctr(o)["resources"]["requests"].pop("nvidia.com/gpu")), edit(tp(2), gpus(2))],
    ),
    "GPU003": (
        [edit(tp(4), gpus(2)), kubeai("--tensor-parallel-size=2"), sglang_lws(2, 2)],
        [edit(tp(4), gpus(4)), kubeai("--tensor-parallel-size=2", "nvidia-gpu-l4:2"), sglang_lws(2, 1)],
    ),
    "GPU004": (
        [edit(tp(3), gpus(3)), edit(tp(5), gpus(5))],
        [edit(tp(2), gpus(2)), edit(tp(8), gpus(8))],
    ),
    "GPU005": (
        [
            edit(
                gpus(2),
                set_path("ctr", "image", "ghcr.io/huggingface/text-generation-inference:3.3.4"),
                replace_args("--model-id", "Qwen/Qwen3-8B", "--num-shard", "2"),
                lambda o: ctr(o)["volumeMounts"].pop(1),
            ),
            edit(tp(2), gpus(2), lambda o: pod(o)["volumes"][1]["emptyDir"].pop("medium")),
        ],
        [
            edit(tp(2), gpus(2), lambda o: ctr(o)["volumeMounts"].pop(1), set_path("pod", "hostIPC", True)),
            edit(
                gpus(2),
                set_path("ctr", "image", "ghcr.io/ggml-org/llama.cpp:server-cuda-b6000"),
                replace_args("-m", "/models/q.gguf", "-c", "8192"),
                set_path("ctr", "command", ["/app/llama-server"]),
                lambda o: ctr(o)["volumeMounts"].pop(1),
            ),
        ],
    ),
    "GPU006": (
        [
            # a sidecar without a memory limit that mounts /dev/shm can fill it
            edit(
                shm(DELETE),
                _sidecar(
                    resources={"requests": {"cpu": "10m", "memory": "16Mi"}},
                    volumeMounts=[{"name": "shm", "mountPath": "/dev/shm"}],
                ),
            ),
            edit(shm(DELETE), limit("memory", DELETE)),
        ],
        [
            edit(shm(DELETE)),
            edit(lambda o: pod(o)["volumes"][1]["emptyDir"].pop("medium"), shm(DELETE)),
            # tmpfs pages are charged to the writer: a sidecar without a limit that does not mount it is no way in
            edit(shm(DELETE), _sidecar(resources={"requests": {"cpu": "10m", "memory": "16Mi"}})),
        ],
    ),
    "GPU007": (
        [
            # Llama-3.1-8B downloads and loads in about 316 s; with the 1.5x margin 474 s
            edit(probe("startupProbe", failureThreshold=47, periodSeconds=10)),  # 470 s: a warning
            edit(
                replace_args("serve", "meta-llama/Llama-3.1-70B-Instruct", "--max-model-len=8192"),
                probe("startupProbe", failureThreshold=60, periodSeconds=10),
            ),
            # a model of unknown size: the planner's 10-minute floor
            edit(
                replace_args("serve", "acme/house-model", "--max-model-len=8192"),
                probe("startupProbe", failureThreshold=59, periodSeconds=10),
            ),
        ],
        [
            edit(probe("startupProbe", failureThreshold=48, periodSeconds=10)),  # 480 s ≥ 474 s
            edit(
                set_path("ctr", "image", "ollama/ollama:0.6.0"),
                set_path("ctr", "args", None),
                set_path("ctr", "startupProbe", DELETE),
            ),
            # Gemma-3-1B starts in about 91 s: a liveness probe allowing 390 s is four times that
            edit(
                replace_args("serve", "google/gemma-3-1b-it", "--max-model-len=8192"),
                set_path("ctr", "startupProbe", DELETE),
                probe("livenessProbe", initialDelaySeconds=300, periodSeconds=30, failureThreshold=3),
            ),
        ],
    ),
    "GPU008": (
        [
            edit(probe("livenessProbe", timeoutSeconds=2)),
            edit(probe("livenessProbe", failureThreshold=2)),
            edit(probe("readinessProbe", failureThreshold=1)),
        ],
        [
            edit(probe("livenessProbe", timeoutSeconds=3)),
            edit(
                probe("livenessProbe", timeoutSeconds=1, failureThreshold=6, periodSeconds=10)
            ),  # 60 s of misses
        ],
    ),
    "GPU009": (
        [
            edit(
                set_path("ctr", "image", "nvcr.io/nvidia/tensorrt-llm/release:1.0.0"),
                set_path("ctr", "command", ["trtllm-serve", "meta-llama/Llama-3.1-8B-Instruct"]),
                set_path("ctr", "args", None),
                set_path("ctr", "readinessProbe", {"tcpSocket": {"port": 8000}}),
            ),
            edit(
                set_path("ctr", "image", "ollama/ollama:0.6.0"),
                set_path("ctr", "args", None),
                set_path("ctr", "readinessProbe", {"httpGet": {"path": "/", "port": 11434}}),
            ),
        ],
        [
            edit(set_path("ctr", "readinessProbe", {"tcpSocket": {"port": 8000}})),
            edit(
                set_path("ctr", "image", "ollama/ollama:0.6.0"),
                set_path("ctr", "args", None),
                set_path("ctr", "readinessProbe", {"httpGet": {"path": "/", "port": 11434}}),
                set_path(
                    "ctr",
                    "lifecycle",
                    {"postStart": {"exec": {"command": ["sh", "-c", "ollama pull qwen3:8b"]}}},
                ),
            ),
        ],
    ),
    "GPU010": (
        [edit(limit("memory", "14Gi")), edit(limit("memory", DELETE), limit("cpu", DELETE))],
        [edit(limit("memory", "16Gi")), kubeai()],
    ),
    "GPU011": (
        [
            edit(args8b("--hf-token", "$(HF_TOKEN)")),
            edit(
                add(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: llm}\ndata: {HF_TOKEN: hf_abc}"
                )
            ),
        ],
        [
            edit(setenv("HF_TOKEN_PATH", "/secrets/token")),
            edit(
                add(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: llm}\ndata: {HF_HOME: /models}"
                )
            ),
        ],
    ),
    "GPU012": (
        [
            edit(set_path("ctr", "image", "vllm/vllm-openai:latest-nightly")),
            edit(set_path("ctr", "image", "vllm/vllm-openai")),
            edit(set_path("ctr", "image", "vllm/vllm-openai:main")),
        ],
        [
            edit(set_path("ctr", "image", "vllm/vllm-openai@sha256:" + "a" * 64)),
            edit(set_path("ctr", "image", "vllm/vllm-openai:nightly-20250801")),
            edit(set_path("ctr", "image", "vllm/vllm-openai:${VLLM_VERSION}")),
        ],
    ),
    "GPU013": (
        [
            edit(set_path("pod", "tolerations", [{"key": "dedicated", "operator": "Exists"}])),
            edit(set_path("pod", "tolerations", [])),
        ],
        [
            edit(set_path("pod", "tolerations", [{"operator": "Exists"}])),
            edit(no_gpu, args8b("--device", "cpu")),
        ],
    ),
    "GPU014": (
        [
            kubeai("--gpu-memory-utilization=0.9"),
            edit(replace_args("serve", "acme/SuperChat-70B")),
        ],
        [
            edit(replace_args("serve", "Qwen/Qwen3-0.6B")),
            edit(
                set_path("ctr", "args", None),
                set_path(
                    "ctr",
                    "command",
                    [
                        "python3",
                        "-m",
                        "sglang.launch_server",
                        "--model-path",
                        "meta-llama/Llama-3.1-8B-Instruct",
                    ],
                ),
            ),
            edit(replace_args("serve", "acme/tiny-chat-1B")),
        ],
    ),
    "GPU015": (
        [
            edit(
                set_path("dep", "spec.strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})
            ),
            edit(
                set_path("dep", "spec.strategy", {"rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 0}})
            ),
        ],
        [
            edit(
                set_path(
                    "dep", "spec.strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "0%"}}
                )
            ),
            edit(no_gpu, args8b("--device", "cpu"), set_path("dep", "spec.strategy", DELETE)),
        ],
    ),
    "GPU016": (
        [
            edit(lambda o: ctr(o)["volumeMounts"][0].update(readOnly=True)),
            edit(
                lambda o: pod(o)["volumes"].__setitem__(0, {"name": "models", "configMap": {"name": "cache"}})
            ),
        ],
        [
            edit(lambda o: ctr(o)["volumeMounts"][0].update(readOnly=True), setenv("HF_HUB_OFFLINE", "1")),
            edit(
                lambda o: ctr(o)["volumeMounts"][0].update(readOnly=True),
                replace_args("serve", "/models/llama-8b", "--max-model-len=8192"),
            ),
        ],
    ),
    "GPU017": (
        [
            edit(gpus(1, "nvidia.com/gpu.shared"), args8b("--gpu-memory-utilization=0.51")),
            edit(add(TIME_SLICED.replace("REPLICAS", "2")), args8b("--gpu-memory-utilization=0.9")),
        ],
        [
            edit(gpus(1, "nvidia.com/gpu.shared"), args8b("--gpu-memory-utilization=0.5")),
            edit(add(TIME_SLICED.replace("REPLICAS", "2")), args8b("--gpu-memory-utilization=0.5")),
        ],
    ),
    "GPU018": (
        [edit(set_path("pod", "runtimeClassName", "")), lws()],
        [
            edit(set_path("pod", "runtimeClassName", "nvidia-cdi")),
            edit(no_gpu, args8b("--device", "cpu"), set_path("pod", "runtimeClassName", DELETE)),
        ],
    ),
    "GPU019": (
        [
            edit(
                set_path("pod", "enableServiceLinks", True),
                lambda o: find(o, "Service")["metadata"].update(name="vllm"),
            ),
            edit(
                set_path("pod", "enableServiceLinks", DELETE),
                lambda o: find(o, "Service")["metadata"].update(name="vllm", namespace=""),
            ),
        ],
        [
            edit(
                lambda o: find(o, "Service")["metadata"].update(name="vllm", namespace="other"),
                set_path("pod", "enableServiceLinks", DELETE),
            ),
            edit(
                set_path("pod", "enableServiceLinks", DELETE),
                lambda o: find(o, "Service")["metadata"].update(name="vllm"),
                set_path("ctr", "image", "ghcr.io/huggingface/text-generation-inference:3.3.4"),
                replace_args("--model-id", "Qwen/Qwen3-8B"),
            ),
        ],
    ),
    "GPU020": (
        [
            edit(node("nvidia.com/gpu.product", "Tesla-V100-SXM2-16GB"), args8b("--dtype=bfloat16")),
            edit(node("cloud.google.com/gke-accelerator", "nvidia-tesla-t4"), args8b("--dtype", "bf16")),
        ],
        [
            edit(args8b("--dtype=bfloat16")),  # L4 has bf16
            edit(node("cloud.google.com/gke-accelerator", "nvidia-tesla-t4")),
        ],
    ),
    "GPU021": (
        [
            edit(lambda o: pod(o)["volumes"].__setitem__(0, {"name": "models", "emptyDir": {}})),
            edit(
                lambda o: ctr(o)["env"].pop(0), lambda o: ctr(o)["env"].pop(0)
            ),  # cache under /root, no volume
            nim_runtime("/mnt/models-cache"),  # beside KServe's mount, not in it: the container filesystem
        ],
        [
            edit(
                lambda o: pod(o)["volumes"].__setitem__(
                    0, {"name": "models", "emptyDir": {"sizeLimit": "40Gi"}}
                )
            ),
            edit(
                lambda o: ctr(o)["volumeMounts"].pop(0),
                replace_args("serve", "/weights/llama", "--max-model-len=8192"),
            ),
            # a KServe runtime: /mnt/models is the InferenceService's storage, mounted by KServe
            nim_runtime("/mnt/models/cache"),
            nim_runtime("/mnt/models"),
        ],
    ),
    "GPU022": (
        [
            lws("SYS_NICE", "rdma/roce_gdr: 1"),
            edit(gpus(8), tp(8), setenv("NCCL_IB_HCA", "mlx5_0")),
        ],
        [
            lws("SYS_NICE", "vpc.amazonaws.com/efa: 4"),
            edit(gpus(8), tp(8), setenv("NCCL_IB_HCA", "mlx5_0"), setenv("NCCL_IB_DISABLE", "1")),
        ],
    ),
    "GPU023": (
        [isvc(minimum=0, annotation="serving.knative.dev/progress-deadline: 30m"), isvc(annotation="x: y")],
        [isvc(annotation="serving.knative.dev/progress-deadline: 30m"), isvc(limits="memory: 8Gi, cpu: 2")],
    ),
    "GPU024": (
        [
            edit(
                hpa(
                    metrics=[
                        {
                            "type": "Resource",
                            "resource": {"name": "memory", "target": {"type": "Utilization"}},
                        }
                    ]
                )
            ),
            edit(hpa(metrics=[])),
            edit(keda('avg(DCGM_FI_DEV_GPU_UTIL{pod=~"llama-.*"})')),
            # GPU utilisation reads near 100 % with one request: GKE's managed-Prometheus name for DCGM's gauge
            edit(
                hpa(
                    metrics=[
                        {
                            "type": "Pods",
                            "pods": {
                                "metric": {"name": "prometheus.googleapis.com|dcgm_fi_dev_gpu_util|gauge"},
                                "target": {"type": "AverageValue", "averageValue": 20},
                            },
                        }
                    ]
                )
            ),
        ],
        [
            # a custom metric whose name only mentions the GPU is not its utilisation
            edit(
                hpa(
                    metrics=[
                        {
                            "type": "Pods",
                            "pods": {
                                "metric": {"name": "vllm_gpu_cache_usage_perc"},
                                "target": {"type": "AverageValue", "averageValue": "0.8"},
                            },
                        }
                    ]
                )
            ),
            edit(
                hpa(
                    metrics=[
                        {
                            "type": "External",
                            "external": {"metric": {"name": "queue"}, "target": {"type": "Value"}},
                        }
                    ]
                )
            ),
            edit(
                no_gpu,
                args8b("--device", "cpu"),
                hpa(
                    metrics=[
                        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}
                    ]
                ),
            ),
        ],
    ),
    "GPU025": (
        [
            edit(
                set_path("pod", "terminationGracePeriodSeconds", DELETE), set_path("ctr", "lifecycle", DELETE)
            ),
            edit(set_path("pod", "terminationGracePeriodSeconds", 10), set_path("ctr", "lifecycle", DELETE)),
        ],
        [
            edit(set_path("pod", "terminationGracePeriodSeconds", 31), set_path("ctr", "lifecycle", DELETE)),
            edit(set_path("pod", "terminationGracePeriodSeconds", 30)),
        ],
    ),
    "GPU026": (
        [
            edit(
                no_gpu,
                set_path("ctr", "image", "lmsysorg/sglang:v0.4.9"),
                set_path("ctr", "args", None),
                set_path(
                    "ctr",
                    "command",
                    ["python3", "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen3-8B"],
                ),
            ),
            edit(_sidecar(env=[{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}])),
        ],
        [
            edit(no_gpu, setenv("NVIDIA_VISIBLE_DEVICES", "none")),
            edit(
                no_gpu,
                set_path("ctr", "image", "ubuntu:22.04"),
                set_path("ctr", "args", None),
                set_path("ctr", "command", ["sh", "-c", "pip install vllm && vllm serve Qwen/Qwen3-8B"]),
            ),
        ],
    ),
    "GPU027": (
        [edit(gpus(9), tp(9)), kubeai("--tensor-parallel-size=16", "nvidia-gpu-h100:16")],
        [edit(gpus(8), tp(8)), lws()],
    ),
    "GPU028": (
        [
            kubeai(cache=""),
            edit(lambda o: ctr(o)["volumeMounts"].pop(0), limit("ephemeral-storage", "50Gi")),
        ],
        [
            edit(
                lambda o: pod(o)["volumes"].__setitem__(
                    0, {"name": "models", "emptyDir": {"sizeLimit": "4Gi"}}
                ),
                replace_args("serve", "Qwen/Qwen3-0.6B", "--max-model-len=8192"),
            ),
            kubeai(),
        ],
    ),
    "GPU029": (
        [edit(args8b("--gpu-memory-utilization=0.99")), edit(args8b("--gpu-memory-utilization=0"))],
        [edit(args8b("--gpu-memory-utilization=0.98")), edit(args8b())],
    ),
    "GPU030": (
        [
            sglang_lws(2, 1),
            dynamo(2, 1, 2),
            objs(
                LWS.replace("CAPS", "IPC_LOCK").replace(
                    "--tensor-parallel-size 8 --pipeline-parallel-size 2",
                    "--tensor-parallel-size 16 --pipeline-parallel-size 1",
                )
            ),
        ],
        [
            lws("IPC_LOCK"),
            objs(
                LWS.replace("CAPS", "IPC_LOCK")
                .replace(
                    "--tensor-parallel-size 8 --pipeline-parallel-size 2",
                    "--tensor-parallel-size 16 --pipeline-parallel-size 1",
                )
                .replace("memory: 1000Gi}", "memory: 1000Gi, rdma/ib: 1}")
            ),
            dynamo(1, 2, 2),
        ],
    ),
    "GPU031": (
        [
            edit(node("cloud.google.com/gke-accelerator", "nvidia-tesla-l4")),
            edit(node("karpenter.k8s.aws/instance-gpu-name", "L4")),
            edit(node("nvidia.com/gpu.product", "NVIDIA-Unobtainium-9000")),
        ],
        [
            edit(node("cloud.google.com/gke-accelerator", "nvidia-l4")),
            edit(node("cloud.google.com/gke-accelerator", "nvidia-h100-mega-80gb")),
            edit(node("nvidia.com/gpu.product", "Tesla-V100-SXM2-16GB")),
        ],
    ),
    "GPU032": (
        [
            edit(shm("32Gi")),
            edit(shm("24577Mi")),  # 1 MiB above the limit
            edit(shm("9Gi"), limit("memory", "8Gi"), _sidecar(resources={"limits": {"memory": "16Mi"}})),
        ],
        [
            edit(shm("24Gi")),
            edit(shm("2Gi")),
            edit(shm("48Gi"), limit("memory", DELETE)),
            # both writers' limits bound it: 8 GiB + 1 GiB ≥ 8200 MiB
            edit(
                shm("8200Mi"),
                limit("memory", "8Gi"),
                _sidecar(
                    resources={"limits": {"memory": "1Gi"}},
                    volumeMounts=[{"name": "shm", "mountPath": "/dev/shm"}],
                ),
            ),
        ],
    ),
    "GPU033": (
        [
            edit(adapter(), setenv("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "True")),
            edit(adapter(), args8b("--enable-lora")),
            edit(adapter("other")),
        ],
        [
            edit(adapter(), args8b("--enable-lora"), setenv("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "True")),
            edit(adapter(), args8b("--enable-lora"), setenv("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "1")),
            objs(ADAPTER.replace("APP", "llama")),
        ],
    ),
}

MORE.update(
    {
        "FIT001": (
            [
                edit(replace_args("serve", "openai/gpt-oss-120b", "--max-model-len=8192")),
                objs(
                    KUBEAI.replace("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-70B-Instruct")
                    .replace("ARGS", "--max-model-len=8192")
                    .replace("CACHE", "efs")
                ),
            ],
            [
                edit(
                    node("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"),
                    gpus(4),
                    tp(4),
                    replace_args(
                        "serve",
                        "meta-llama/Llama-3.1-70B-Instruct",
                        "--max-model-len=8192",
                        "--tensor-parallel-size=4",
                    ),
                ),
                edit(
                    set_path("pod", "nodeSelector", DELETE),
                    replace_args("serve", "meta-llama/Llama-3.1-70B-Instruct", "--max-model-len=8192"),
                ),
            ],
        ),
        "FIT002": (
            [edit(args8b("--max-model-len=65536")), kubeai("--max-model-len=131072")],
            [
                edit(replace_args("serve", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len=16384")),
                edit(replace_args("serve", "/models/custom", "--max-model-len=131072")),
            ],
        ),
        "FIT003": (
            [
                edit(
                    replace_args(
                        "serve",
                        "meta-llama/Llama-3.1-8B-Instruct",
                        "--tensor-parallel-size=3",
                        "--max-model-len=4096",
                    ),
                    gpus(3),
                ),
                edit(
                    replace_args(
                        "serve", "Qwen/Qwen3-32B", "--tensor-parallel-size=5", "--max-model-len=4096"
                    ),
                    gpus(5),
                ),
            ],
            [
                edit(
                    replace_args(
                        "serve", "Qwen/Qwen3-32B", "--tensor-parallel-size=2", "--max-model-len=4096"
                    ),
                    gpus(2),
                ),
                edit(
                    replace_args(
                        "serve",
                        "meta-llama/Llama-3.1-8B-Instruct",
                        "--tensor-parallel-size=8",
                        "--max-model-len=4096",
                    ),
                    gpus(8),
                ),
            ],
        ),
        "FIT004": (
            [
                edit(replace_args("serve", "meta-llama/Meta-Llama-3-8B-Instruct", "--max-model-len=8193")),
                objs(
                    KUBEAI.replace("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Meta-Llama-3-8B-Instruct")
                    .replace("ARGS", "--max-model-len=16384")
                    .replace("CACHE", "efs")
                ),
            ],
            [
                edit(
                    replace_args(
                        "serve",
                        "meta-llama/Meta-Llama-3-8B-Instruct",
                        "--max-model-len=16384",
                        "--hf-overrides",
                        '{"rope_scaling": {"type": "dynamic", "factor": 2.0}}',
                    )
                ),
                edit(replace_args("serve", "meta-llama/Meta-Llama-3-8B-Instruct", "--max-model-len=4096")),
            ],
        ),
        "SEC001": (
            [
                edit(_sidecar(securityContext={"privileged": True})),
                edit(
                    lambda o: (
                        pod(o)
                        .setdefault("initContainers", [])
                        .append(
                            {
                                "name": "init",
                                "image": "busybox:1.36.1",
                                "securityContext": {"privileged": True},
                            }
                        )
                    )
                ),
            ],
            [edit(set_path("ctr", "securityContext.privileged", False)), edit(_sidecar())],
        ),
        "SEC002": (
            [
                edit(_sidecar(securityContext={"allowPrivilegeEscalation": True})),
                edit(
                    lambda o: (
                        pod(o)
                        .setdefault("initContainers", [])
                        .append(
                            {
                                "name": "init",
                                "image": "busybox:1.36.1",
                                "securityContext": {"allowPrivilegeEscalation": True},
                            }
                        )
                    )
                ),
            ],
            [
                edit(set_path("ctr", "securityContext.allowPrivilegeEscalation", False)),
                edit(set_path("ctr", "securityContext.allowPrivilegeEscalation", DELETE)),
            ],
        ),
        "SEC003": (
            [
                edit(set_path("pod", "securityContext.runAsUser", 0)),
                edit(set_path("ctr", "securityContext.runAsNonRoot", False)),
            ],
            [
                edit(set_path("ctr", "securityContext.runAsUser", 1000)),
                edit(set_path("pod", "securityContext", DELETE)),
            ],
        ),
        "SEC004": (
            [edit(caps("ALL")), edit(caps("CAP_NET_ADMIN"))],
            [edit(caps("NET_BIND_SERVICE")), edit(caps("IPC_LOCK", "SYS_NICE"))],
        ),
        "SEC005": (
            [
                edit(set_path("ctr", "securityContext.capabilities.drop", ["NET_RAW"])),
                edit(_sidecar(securityContext={})),
            ],
            [
                edit(set_path("ctr", "securityContext.capabilities.drop", ["all"])),
                edit(set_path("ctr", "securityContext.privileged", True)),
            ],
        ),
        "SEC006": (
            [
                edit(lambda o: pod(o)["volumes"].append({"name": "dev", "hostPath": {"path": "/dev"}})),
                tz_host_path(
                    "/etc/localtime", read_only=False
                ),  # writable: the pod can change the node's zone
                tz_host_path("/etc/localtime-backup", read_only=True),  # not the zone file itself
                edit(
                    lambda o: pod(o)["volumes"].__setitem__(
                        2, {"name": "tmp", "hostPath": {"path": "/var/tmp"}}
                    )
                ),
            ],
            [
                edit(
                    lambda o: pod(o)["volumes"].append(
                        {"name": "s", "hostPath": {"path": "/var/run/docker.sock"}}
                    )
                ),
                edit(lambda o: pod(o)["volumes"].append({"name": "e", "emptyDir": {}})),
                tz_host_path("/etc/localtime", read_only=True),
                tz_host_path("/usr/share/zoneinfo/Europe/Paris", read_only=True),
            ],
        ),
        "SEC007": (
            [
                edit(
                    set_path("pod", "hostNetwork", True),
                    set_path("pod", "dnsPolicy", "ClusterFirstWithHostNet"),
                ),
                objs(
                    LWS.replace("CAPS", "IPC_LOCK").replace(
                        "      spec:\n        containers:\n          - name: leader",
                        "      spec:\n        hostNetwork: true\n        containers:\n          - name: leader",
                    )
                ),
            ],
            [edit(set_path("pod", "hostNetwork", False)), edit(set_path("pod", "hostNetwork", "true"))],
        ),
        "SEC008": (
            [
                edit(set_path("pod", "hostPID", True), set_path("pod", "hostIPC", False)),
                objs(
                    LWS.replace("CAPS", "IPC_LOCK").replace(
                        "      spec:\n        containers:\n          - name: worker",
                        "      spec:\n        hostPID: true\n        containers:\n          - name: worker",
                    )
                ),
            ],
            [edit(set_path("pod", "hostPID", False)), edit(set_path("pod", "hostPID", DELETE))],
        ),
        "SEC009": (
            [
                edit(set_path("pod", "hostIPC", True), tp(2), gpus(2)),
                objs(
                    LWS.replace("CAPS", "IPC_LOCK").replace(
                        "      spec:\n        containers:\n          - name: worker",
                        "      spec:\n        hostIPC: true\n        containers:\n          - name: worker",
                    )
                ),
            ],
            [edit(set_path("pod", "hostIPC", False)), edit(set_path("pod", "hostIPC", DELETE))],
        ),
        "SEC010": (
            [
                edit(set_path("pod", "automountServiceAccountToken", True)),
                edit(
                    set_path("pod", "automountServiceAccountToken", DELETE),
                    drop_kind("ServiceAccount"),
                    add(SA_AUTOMOUNT.replace("VALUE", "true")),
                ),
            ],
            [
                edit(
                    set_path("pod", "automountServiceAccountToken", DELETE)
                ),  # the ServiceAccount turns it off
                edit(drop_kind("ServiceAccount")),
            ],
        ),
        "SEC011": (
            [edit(setenv("DB_PASSWORD", "hunter2")), edit(setenv("AWS_SECRET_ACCESS_KEY", "abc"))],
            [edit(setenv("API_KEY_FILE", "/secrets/key")), edit(setenv("TOKEN_PATH", "/secrets/token"))],
        ),
        "SEC012": (
            [edit(_sidecar(image="busybox:latest")), edit(_sidecar(image="busybox:stable"))],
            [edit(_sidecar(image="busybox@sha256:" + "b" * 64)), edit(_sidecar(image="<sidecar-image>"))],
        ),
        "SEC013": (
            [
                edit(
                    lambda o: pod(o)["volumes"].append(
                        {"name": "s", "hostPath": {"path": "/run/containerd/containerd.sock"}}
                    )
                ),
                edit(
                    lambda o: pod(o)["volumes"].append(
                        {"name": "s", "hostPath": {"path": "/var/run/crio/crio.sock"}}
                    )
                ),
            ],
            [
                edit(
                    lambda o: pod(o)["volumes"].append(
                        {"name": "s", "hostPath": {"path": "/var/run/app.sock"}}
                    )
                ),
                edit(lambda o: pod(o)["volumes"].append({"name": "s", "emptyDir": {}})),
            ],
        ),
        "SEC014": (
            [
                edit(_sidecar(ports=[{"containerPort": 9090, "hostPort": 9090}])),
                edit(lambda o: ctr(o)["ports"].append({"containerPort": 8001, "hostPort": 30001})),
            ],
            [
                edit(_sidecar(ports=[{"containerPort": 9090}])),
                edit(lambda o: ctr(o)["ports"][0].update(hostPort=0)),
            ],
        ),
        "SEC015": (
            [
                edit(set_path("ctr", "securityContext.seccompProfile", {"type": "Unconfined"})),
                edit(_sidecar(securityContext={"seccompProfile": {"type": "Unconfined"}})),
            ],
            [
                edit(
                    set_path(
                        "pod",
                        "securityContext.seccompProfile",
                        {"type": "Localhost", "localhostProfile": "p.json"},
                    )
                ),
                edit(set_path("pod", "securityContext.seccompProfile", DELETE)),
            ],
        ),
        "SEC016": (
            [
                edit(
                    add(
                        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: llm}\ndata: {API_KEY: sk-1}"
                    )
                ),
                edit(
                    add(
                        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: llm}\ndata: {SECRET_KEY: x}"
                    )
                ),
            ],
            [
                edit(
                    add(
                        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: llm}\ndata: {TOKEN_PATH: /t}"
                    )
                ),
                edit(
                    add(
                        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: llm}\ndata: {PASSWORD: ''}"
                    )
                ),
            ],
        ),
        "SEC017": (
            [
                edit(_sidecar(securityContext={"procMount": "Unmasked"})),
                edit(
                    lambda o: (
                        pod(o)
                        .setdefault("initContainers", [])
                        .append(
                            {
                                "name": "init",
                                "image": "busybox:1.36.1",
                                "securityContext": {"procMount": "Unmasked"},
                            }
                        )
                    )
                ),
            ],
            [edit(set_path("ctr", "securityContext.procMount", "Default")), edit(_sidecar())],
        ),
        "SEC018": (
            [
                edit(args8b("--api-key", "sk-kFJ12nKsFVfVmGpj3QzX")),
                edit(args8b("--api-key=sk-kFJ12nKsFVfVmGpj3QzX")),
                edit(
                    set_path("ctr", "args", None),
                    set_path(
                        "ctr",
                        "command",
                        ["sh", "-c", "exec vllm serve Qwen/Qwen3-8B --api-key sk-123 --max-model-len 8192"],
                    ),
                ),
            ],
            [
                edit(args8b("--api-key", "$(API_KEY)")),
                edit(args8b("--api-key-file", "/secrets/key")),
                edit(args8b("--api-key=${API_KEY}")),
            ],
        ),
    }
)

STS = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: llm}
spec:
  replicas: REPLICAS
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: GRACE
      containers: [{name: db, image: 'postgres:16.4', ports: [{name: pg, containerPort: 5432}],
                    resources: {requests: {cpu: '1', memory: 1Gi}, limits: {memory: 1Gi}}}]
---
apiVersion: v1
kind: Service
metadata: {name: db-0, namespace: llm}
spec: {selector: {app: db, SELECTOR}, ports: [{port: 5432, targetPort: TARGET}]}
"""


def sts(
    replicas: int = 1,
    grace: int = 30,
    selector: str = "apps.kubernetes.io/pod-index: '0'",
    target: str = "pg",
) -> Builder:
    text = STS.replace("REPLICAS", str(replicas)).replace("GRACE", str(grace)).replace("SELECTOR", selector)
    return objs(text.replace("TARGET", target))


def sidecar_ports(**fields: Any) -> Change:
    return _sidecar(ports=[{"name": "metrics", "containerPort": 9090}], **fields)


MORE.update(
    {
        "REL001": (
            [edit(sidecar_ports()), objs(LWS.replace("CAPS", "IPC_LOCK"))],
            [edit(_sidecar()), edit(set_path("ctr", "readinessProbe", {"exec": {"command": ["true"]}}))],
        ),
        "REL002": (
            [
                edit(sidecar_ports(readinessProbe={"tcpSocket": {"port": 9090}})),
                objs(LWS.replace("CAPS", "IPC_LOCK")),
            ],
            [edit(_sidecar()), edit(set_path("ctr", "livenessProbe", {"exec": {"command": ["true"]}}))],
        ),
        "REL003": (
            [
                edit(_sidecar(resources={"requests": {"memory": "16Mi"}, "limits": {"memory": "16Mi"}})),
                edit(limit("cpu", DELETE), lambda o: ctr(o)["resources"]["limits"].pop("cpu", None)),
            ],
            [
                edit(_sidecar(resources={})),  # nothing sized at all: REL004's finding
                edit(
                    lambda o: ctr(o)["resources"]["requests"].pop("cpu"),
                    lambda o: ctr(o)["resources"]["limits"].update(cpu="4"),
                ),
            ],
        ),
        "REL004": (
            [edit(_sidecar(resources={})), edit(_sidecar(resources={"limits": {"cpu": "1"}}))],
            [
                edit(limit("memory", DELETE)),  # an engine: GPU010's finding
                edit(_sidecar(resources={"limits": {"memory": "16Mi"}})),
            ],
        ),
        "REL005": (
            [
                edit(_sidecar(resources={"requests": {"memory": "16Mi"}})),
                edit(_sidecar(resources={"requests": {"memory": "1Gi", "cpu": "1"}, "limits": {"cpu": "1"}})),
            ],
            [edit(_sidecar(resources={})), edit(limit("memory", DELETE))],
        ),
        "REL006": (
            [edit(set_path("dep", "spec.replicas", 2), drop_kind("PodDisruptionBudget")), sts(replicas=2)],
            [
                edit(set_path("dep", "spec.replicas", 1), drop_kind("PodDisruptionBudget")),
                edit(set_path("dep", "spec.replicas", 2)),
            ],
        ),
        "REL007": (
            [
                edit(
                    set_path("dep", "spec.replicas", 2), set_path("pod", "topologySpreadConstraints", DELETE)
                ),
                sts(replicas=3),
            ],
            [
                edit(
                    set_path("dep", "spec.replicas", 1), set_path("pod", "topologySpreadConstraints", DELETE)
                ),
                edit(
                    set_path("dep", "spec.replicas", 3),
                    set_path("pod", "topologySpreadConstraints", DELETE),
                    set_path(
                        "pod",
                        "affinity",
                        {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
                    ),
                ),
            ],
        ),
        "REL008": (
            [
                sts(grace=0),
                objs(
                    LWS.replace("CAPS", "IPC_LOCK").replace(
                        "      spec:\n        containers:\n          - name: leader",
                        "      spec:\n        terminationGracePeriodSeconds: 0\n        containers:\n          - name: leader",
                    )
                ),
            ],
            [sts(grace=1), edit(set_path("pod", "terminationGracePeriodSeconds", DELETE))],
        ),
        "REL009": (
            [
                edit(
                    lambda o: find(o, "Deployment")["spec"]["selector"].update(
                        matchExpressions=[{"key": "app", "operator": "In", "values": ["other"]}]
                    )
                ),
                edit(lambda o: find(o, "Deployment")["spec"]["selector"]["matchLabels"].update(tier="gpu")),
            ],
            [
                edit(
                    lambda o: find(o, "Deployment")["spec"]["selector"].update(
                        matchExpressions=[{"key": "app", "operator": "Exists"}]
                    )
                ),
                edit(
                    lambda o: find(o, "Deployment")["spec"]["template"]["metadata"]["labels"].update(
                        tier="gpu"
                    )
                ),
            ],
        ),
        "REL010": (
            [
                edit(pdb(maxUnavailable="0%")),
                edit(set_path("dep", "spec.replicas", 2), pdb(maxUnavailable=DELETE, minAvailable=2)),
                edit(pdb(maxUnavailable=DELETE, minAvailable="100%")),
            ],
            [
                edit(set_path("dep", "spec.replicas", 2), pdb(maxUnavailable=DELETE, minAvailable=1)),
                edit(pdb(maxUnavailable=DELETE, minAvailable="50%")),
            ],
        ),
        "REL011": (
            [
                edit(setenv("HOME", "/root")),
                edit(_sidecar(env=[{"name": "A", "value": "1"}, {"name": "A", "value": "2"}])),
            ],
            [
                edit(setenv("HOME_DIR", "/root")),
                edit(_sidecar(env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
            ],
        ),
        "REL012": (
            [
                edit(set_path("ctr", "livenessProbe.httpGet.port", "metrics")),
                edit(set_path("ctr", "startupProbe.httpGet.port", "api")),
            ],
            [
                edit(set_path("ctr", "readinessProbe.httpGet.port", 8000)),
                edit(set_path("ctr", "readinessProbe.httpGet.port", "8000")),
            ],
        ),
        "REL016": (
            [
                edit(pvc("ReadWriteOnce"), set_path("dep", "spec.replicas", 2)),
                edit(pvc("ReadWriteOnce"), set_path("dep", "spec.strategy", DELETE)),  # default surge 25 %
                edit(pvc("ReadWriteOncePod"), set_path("dep", "spec.replicas", 3)),
                # a node-local ReadWriteOncePod volume still admits one pod only
                edit(
                    pvc("ReadWriteOncePod", ", volumeName: models-pv"),
                    local_pv("hostPath"),
                    set_path("dep", "spec.replicas", 2),
                ),
                # a network disk's class: the surge pod may land on another node
                edit(
                    pvc("ReadWriteOnce", ", storageClassName: ssd"),
                    storage_class("ssd", "pd.csi.storage.gke.io"),
                    set_path("dep", "spec.strategy", DELETE),
                ),
            ],
            [
                edit(pvc("ReadWriteMany"), set_path("dep", "spec.replicas", 3)),
                edit(pvc("ReadWriteOnce"), set_path("dep", "spec.strategy", {"type": "Recreate"})),
                edit(pvc("ReadWriteOnce")),  # one replica, maxSurge 0
                # node-local volumes: every pod runs on the volume's node, where ReadWriteOnce is shared
                edit(
                    pvc("ReadWriteOnce", ", volumeName: models-pv"),
                    local_pv("local"),
                    set_path("dep", "spec.strategy", DELETE),
                ),
                edit(
                    pvc("ReadWriteOnce", ", storageClassName: local-disks"),
                    storage_class("local-disks", "kubernetes.io/no-provisioner"),
                    set_path("dep", "spec.replicas", 2),
                ),
            ],
        ),
        "REL014": (
            [
                edit(setenv("LD_LIBRARY_PATH", "/opt/lib:$LD_LIBRARY_PATH")),
                edit(setenv("MODEL", "${MODEL_ID}")),
                edit(_sidecar(env=[{"name": "URL", "value": "http://${HOST}:8000"}])),
            ],
            [
                edit(setenv("MODEL_PATH", "$(HF_HOME)/llama")),
                edit(setenv("PRICE", "$$5")),
                edit(setenv("HUGGING_FACE_HUB_TOKEN", "$HF_TOKEN")),  # GPU011's finding
            ],
        ),
        "REL015": (
            [
                edit(set_path("pod", "hostNetwork", True)),
                edit(set_path("pod", "hostNetwork", True), set_path("pod", "dnsPolicy", "Default")),
                edit(set_path("pod", "hostNetwork", True), set_path("pod", "dnsPolicy", "ClusterFirst")),
            ],
            [
                edit(
                    set_path("pod", "hostNetwork", True),
                    set_path("pod", "dnsPolicy", "ClusterFirstWithHostNet"),
                ),
                edit(set_path("pod", "hostNetwork", False)),
                edit(set_path("pod", "hostNetwork", True), set_path("pod", "dnsPolicy", "None")),
            ],
        ),
        "SCALE001": (
            [
                edit(
                    lambda o: find(o, "HorizontalPodAutoscaler")["spec"]["behavior"]["scaleDown"].update(
                        stabilizationWindowSeconds=299
                    )
                ),
                edit(
                    add(
                        KEDA.replace("MIN", "1").replace(
                            "  triggers:",
                            "  advanced: {horizontalPodAutoscalerConfig: "
                            "{behavior: {scaleDown: {stabilizationWindowSeconds: 60}}}}\n  triggers:",
                        )
                    )
                ),
            ],
            [
                edit(
                    lambda o: find(o, "HorizontalPodAutoscaler")["spec"]["behavior"]["scaleDown"].update(
                        stabilizationWindowSeconds=300
                    )
                ),
                edit(lambda o: find(o, "HorizontalPodAutoscaler")["spec"].pop("behavior")),
            ],
        ),
        "SCALE002": (
            [
                edit(add(KEDA.replace("  minReplicaCount: MIN\n", ""))),
                edit(keda('sum(vllm:num_requests_running{namespace="llm"})', minimum=0)),
            ],
            [
                edit(keda("sum(gateway_pending_requests)", minimum=0)),
                edit(keda("sum(vllm:num_requests_waiting)", "cron", 0)),
            ],
        ),
        "SCALE003": (
            [
                edit(
                    lambda o: find(o, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"].update(
                        kind="StatefulSet"
                    )
                ),
                edit(add(KEDA.replace("MIN", "1").replace("{name: llama}", "{name: lama}"))),
            ],
            [
                edit(add(KEDA.replace("MIN", "1"))),
                objs(
                    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n"
                    "spec: {scaleTargetRef: {kind: Deployment, name: elsewhere}, maxReplicas: 2}"
                ),
            ],
        ),
        "SCALE004": (
            [
                edit(set_path("dep", "spec.replicas", 1)),
                edit(
                    set_path("dep", "spec.replicas", 3),
                    drop_kind("HorizontalPodAutoscaler"),
                    add(KEDA.replace("MIN", "1")),
                ),
            ],
            [
                edit(set_path("dep", "spec.replicas", 2), drop_kind("HorizontalPodAutoscaler")),
                edit(add(KEDA.replace("MIN", "1"))),
            ],
        ),
        "SCALE005": (
            [edit(hpa(minReplicas=1, maxReplicas=1)), edit(add(KEDA.replace("MIN", "4")))],
            [edit(hpa(minReplicas=1, maxReplicas=2)), edit(add(KEDA.replace("MIN", "3")))],
        ),
        "SCALE006": (
            [
                edit(keda("sum(vllm:num_requests_waiting)")),
                edit(keda("avg(vllm:gpu_cache_usage_perc{})")),
                edit(keda("sum(rate(vllm:request_success_total[1m]))")),
            ],
            [
                edit(keda('sum(vllm:num_requests_waiting{namespace="llm", model_name="llama"})')),
                edit(keda("sum(gateway_pending_requests)")),
                edit(keda("sum(vllm:num_requests_waiting)", "cpu")),
            ],
        ),
        "NET001": (
            [
                edit(drop_kind("NetworkPolicy"), service(type="LoadBalancer")),
                edit(policy(podSelector={"matchLabels": {"app": "gateway"}})),
            ],
            [
                edit(policy(podSelector={})),
                edit(
                    policy(
                        podSelector={
                            "matchExpressions": [{"key": "app", "operator": "In", "values": ["llama"]}]
                        }
                    )
                ),
            ],
        ),
        "NET002": (
            [
                edit(service(type="NodePort")),
                edit(add(ROUTE.replace("SVC", "llama-engine"))),
                edit(add(INGRESS)),
                edit(add(INGRESS_ROUTE.replace("MIDDLEWARES", ""))),
            ],
            [
                edit(add(GATEWAY_POD), add(ROUTE.replace("SVC", "gw"))),
                edit(add(INGRESS), args8b("--api-key", "$(KEY)")),
                # the route passes an authenticating middleware first
                edit(add(INGRESS_ROUTE.replace("MIDDLEWARES", "middlewares: [{name: api-key-auth}],"))),
            ],
        ),
        "NET003": (
            [edit(service(selector={"app": "llama", "tier": "x"})), sts(selector="role: leader")],
            [sts(), edit(service(selector={"app": "llama", "pod-template-hash": "abc"}))],
        ),
        "NET004": (
            [edit(add(INGRESS)), edit(add(INGRESS.replace("spec: {", "spec: {tls: [], ")))],
            [
                edit(add(INGRESS.replace("spec: {", "spec: {tls: [{hosts: [a.example], secretName: t}], "))),
                edit(add(ROUTE.replace("SVC", "llama-engine"))),
            ],
        ),
        "NET005": (
            [
                edit(lambda o: find(o, "Service")["spec"]["ports"][0].update(targetPort="metrics")),
                sts(target="postgres"),
            ],
            [edit(lambda o: find(o, "Service")["spec"]["ports"][0].update(targetPort=8000)), sts()],
        ),
        "NET006": (
            [
                edit(policy(podSelector={"matchLabels": {"app": "llama", "tier": "x"}})),
                edit(
                    policy(
                        podSelector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["x"]}]}
                    )
                ),
            ],
            [
                edit(policy(podSelector={})),
                edit(policy(podSelector={"matchLabels": {"pod-template-hash": "5d4f"}})),
            ],
        ),
        "NET007": (
            [
                edit(
                    add(
                        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m, namespace: other}\n"
                        "spec: {selector: {matchLabels: {app: llama}}, endpoints: [{port: http}]}"
                    )
                ),
                edit(
                    add(
                        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m, namespace: llm}\n"
                        "spec: {selector: {matchLabels: {app: llama, tier: gpu}}, endpoints: [{port: http}]}"
                    )
                ),
            ],
            [
                edit(
                    add(
                        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m, namespace: other}\n"
                        "spec: {namespaceSelector: {any: true}, selector: {matchLabels: {app: llama}}, endpoints: [{port: http}]}"
                    )
                ),
                edit(
                    add(
                        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m, namespace: llm}\n"
                        "spec: {selector: {}, endpoints: [{port: http}]}"
                    )
                ),
            ],
        ),
        "NET008": (
            [ray("LoadBalancer"), ray("NodePort"), ray("LoadBalancer", "RayService")],
            [
                ray("ClusterIP"),
                ray("ClusterIP", "RayService"),
                objs(
                    RAY.replace("KIND", "RayCluster").replace(
                        "SPEC", RAY_CLUSTER.replace("serviceType: TYPE\n    ", "")
                    )
                ),
            ],
        ),
    }
)

RWX_PVC = (
    "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: models, namespace: llm}\n"
    "spec: {accessModes: [MODE], storageClassName: CLASS, resources: {requests: {storage: 30Gi}}}"
)
MORE["REL013"] = (  # cloud's rule; tests/lint/test_storage_binding.py has the provider cases
    [
        objs(RWX_PVC.replace("MODE", "ReadWriteMany").replace("CLASS", "standard-rwo")),
        objs(RWX_PVC.replace("MODE", "ReadWriteMany").replace("CLASS", "managed-csi")),
    ],
    [
        objs(RWX_PVC.replace("MODE", "ReadWriteOnce").replace("CLASS", "standard-rwo")),
        objs(RWX_PVC.replace("MODE", "ReadWriteMany").replace("CLASS", "standard-rwx")),
    ],
)
