"""An expert manifest set and, per rule, a variant that must fire it and one that must not.

``expert()`` is what a careful operator writes for Llama-3.1-8B on an L4: it must raise no GPU or FIT
finding at all. Each case mutates a fresh copy, so cases never leak into each other.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import yaml

from kubellm.lint.loader import parse_text
from kubellm.lint.runner import LintOptions, LintResult, lint_objects

Objs = list[dict[str, Any]]

EXPERT_YAML = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: llama, namespace: llm}
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: llama, namespace: llm, labels: {app: llama}}
spec:
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}
  selector: {matchLabels: {app: llama}}
  template:
    metadata: {labels: {app: llama}}
    spec:
      serviceAccountName: llama
      automountServiceAccountToken: false
      runtimeClassName: nvidia
      enableServiceLinks: false
      terminationGracePeriodSeconds: 120
      nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}
      tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: llama}}}
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.10.1.1
          args: [serve, meta-llama/Llama-3.1-8B-Instruct, --max-model-len=8192, --gpu-memory-utilization=0.9, --port=8000]
          env:
            - {name: HF_HOME, value: /models}
            - {name: HOME, value: /tmp}
            - name: HF_TOKEN
              valueFrom: {secretKeyRef: {name: hf-token, key: token}}
          ports: [{name: http, containerPort: 8000}]
          resources:
            requests: {cpu: "4", memory: 24Gi, nvidia.com/gpu: 1}
            limits: {memory: 24Gi, nvidia.com/gpu: 1}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          startupProbe: {httpGet: {path: /health, port: http}, periodSeconds: 10, failureThreshold: 180}
          livenessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3}
          readinessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3}
          lifecycle: {preStop: {sleep: {seconds: 15}}}
          volumeMounts:
            - {name: models, mountPath: /models}
            - {name: shm, mountPath: /dev/shm}
            - {name: tmp, mountPath: /tmp}
      volumes:
        - {name: models, persistentVolumeClaim: {claimName: llama-models}}
        - {name: shm, emptyDir: {medium: Memory, sizeLimit: 2Gi}}
        - {name: tmp, emptyDir: {sizeLimit: 4Gi}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: llama, namespace: llm}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: llama}}}
---
apiVersion: v1
kind: Service
metadata: {name: llama-engine, namespace: llm, labels: {app: llama}}
spec:
  type: ClusterIP
  selector: {app: llama}
  ports: [{name: http, port: 8000, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: llama-engine, namespace: llm}
spec:
  podSelector: {matchLabels: {app: llama}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: gateway}}}]}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: llama, namespace: llm}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llama}
  minReplicas: 1
  maxReplicas: 4
  metrics:
    - type: Pods
      pods: {metric: {name: vllm_num_requests_waiting}, target: {type: AverageValue, averageValue: "4"}}
  behavior: {scaleDown: {stabilizationWindowSeconds: 600}}
"""


def expert() -> Objs:
    return [copy.deepcopy(d) for d in yaml.safe_load_all(EXPERT_YAML)]


def lint(objs: Objs, **options: Any) -> LintResult:
    loaded = parse_text(yaml.safe_dump_all(objs, sort_keys=False), "case.yaml")
    return lint_objects(loaded.objects, LintOptions(**options), loaded.problems)


def lint_yaml(text: str, **options: Any) -> LintResult:
    loaded = parse_text(text, "case.yaml")
    return lint_objects(loaded.objects, LintOptions(**options), loaded.problems)


def find(objs: Objs, kind: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind)


def pod(objs: Objs) -> dict[str, Any]:
    spec: dict[str, Any] = find(objs, "Deployment")["spec"]["template"]["spec"]
    return spec


def ctr(objs: Objs) -> dict[str, Any]:
    container: dict[str, Any] = pod(objs)["containers"][0]
    return container


def env(objs: Objs, name: str, value: str) -> None:
    ctr(objs)["env"].append({"name": name, "value": value})


def edit(*changes: Callable[[Objs], object]) -> Callable[[], Objs]:
    """A case builder: the expert set with ``changes`` applied in order."""

    def build() -> Objs:
        objs = expert()
        for change in changes:
            change(objs)
        return objs

    return build


def replace_args(*args: str) -> Callable[[Objs], None]:
    def change(objs: Objs) -> None:
        ctr(objs)["args"] = list(args)

    return change


def set_path(root: str, path: str, value: Any) -> Callable[[Objs], None]:
    """Set a dotted path under the Deployment's 'pod' spec, 'ctr' container or 'dep' object."""

    def change(objs: Objs) -> None:
        target = {"pod": pod(objs), "ctr": ctr(objs), "dep": find(objs, "Deployment")}[root]
        *parents, last = path.split(".")
        for key in parents:
            target = target.setdefault(key, {})
        if value is DELETE:
            target.pop(last, None)
        else:
            target[last] = value

    return change


DELETE = object()


def drop_kind(kind: str) -> Callable[[Objs], None]:
    def change(objs: Objs) -> None:
        objs[:] = [o for o in objs if o["kind"] != kind]

    return change


def add(text: str) -> Callable[[Objs], None]:
    def change(objs: Objs) -> None:
        objs.extend(yaml.safe_load_all(text))

    return change


def gpus(n: int, resource: str = "nvidia.com/gpu") -> Callable[[Objs], None]:
    def change(objs: Objs) -> None:
        res = ctr(objs)["resources"]
        for section in ("requests", "limits"):
            res[section].pop("nvidia.com/gpu", None)
            res[section][resource] = n

    return change


def no_gpu(objs: Objs) -> None:
    for section in ("requests", "limits"):
        ctr(objs)["resources"][section].pop("nvidia.com/gpu", None)


def tp(n: int) -> Callable[[Objs], None]:
    def change(objs: Objs) -> None:
        ctr(objs)["args"].append(f"--tensor-parallel-size={n}")

    return change


LWS = """
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {name: big, namespace: llm}
spec:
  replicas: 1
  leaderWorkerTemplate:
    size: 2
    leaderTemplate:
      spec:
        containers:
          - name: leader
            image: vllm/vllm-openai:v0.10.1.1
            command: [sh, -c, "ray start --head; vllm serve meta-llama/Llama-3.1-405B-Instruct --tensor-parallel-size 8 --pipeline-parallel-size 2 --max-model-len 8192"]
            resources: {limits: {nvidia.com/gpu: 8, memory: 1000Gi}}
            securityContext: {capabilities: {add: [CAPS]}}
    workerTemplate:
      spec:
        containers:
          - name: worker
            image: vllm/vllm-openai:v0.10.1.1
            command: [sh, -c, "ray start --address=$(LWS_LEADER_ADDRESS):6379 --block"]
            resources: {limits: {nvidia.com/gpu: 8, memory: 1000Gi}}
            securityContext: {capabilities: {add: [CAPS]}}
"""

ISVC = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: llama, namespace: llm, annotations: {ANNOTATION}}
spec:
  predictor:
    model:
      modelFormat: {name: huggingface}
      args: [--model_name=llama]
      storageUri: hf://meta-llama/Meta-Llama-3-8B-Instruct
      resources: {limits: {nvidia.com/gpu: 1, memory: 24Gi}, requests: {nvidia.com/gpu: 1, memory: 24Gi, cpu: "4"}}
"""

STORAGE = """
apiVersion: serving.kserve.io/v1alpha1
kind: ClusterStorageContainer
metadata: {name: hf-hub}
spec:
  container:
    name: storage-initializer
    image: kserve/storage-initializer:v0.15.0
    resources: {limits: {memory: MEM, cpu: "1"}, requests: {memory: 2Gi, cpu: "1"}}
  supportedUriFormats: [{prefix: "hf://"}]
"""

TIME_SLICING = """
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
            replicas: 4
"""

KUBEAI = """
apiVersion: kubeai.org/v1
kind: Model
metadata: {name: llama}
spec:
  url: hf://meta-llama/Llama-3.1-8B-Instruct
  engine: VLLM
  args: [ARGS]
  resourceProfile: nvidia-gpu-l4:1
  cacheProfile: CACHE
"""

KEDA = """
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: llama, namespace: llm}
spec:
  scaleTargetRef: {name: llama}
  minReplicaCount: MIN
  maxReplicaCount: 4
  triggers:
    - type: prometheus
      metadata: {serverAddress: "http://prometheus:9090", query: "sum(vllm:num_requests_waiting)", threshold: "4"}
"""


SERVICE_MONITOR = """
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: llama, namespace: llm}
spec:
  selector: {matchLabels: {app: APP}}
  endpoints: [{port: http}]
"""


def _engine_container(objs: Objs) -> None:
    pod(objs)["containers"].append(
        {
            "name": "sidecar",
            "image": "busybox:1.36.1",
            "args": ["sleep", "inf"],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "16Mi"}},
            "securityContext": {"capabilities": {"drop": ["ALL"]}},
        }
    )


def _sidecar(**fields: Any) -> Callable[[Objs], None]:
    def change(objs: Objs) -> None:
        _engine_container(objs)
        pod(objs)["containers"][-1].update(fields)

    return change


# rule id → (fires on, passes on); cases_more.py adds at least two more of each
CASES: dict[str, tuple[Callable[[], Objs], Callable[[], Objs]]] = {
    "GPU001": (edit(no_gpu), expert),
    "GPU002": (edit(lambda o: ctr(o)["resources"]["requests"].update({"nvidia.com/gpu": 2})), expert),
    "GPU003": (edit(tp(2)), edit(tp(2), gpus(2))),
    "GPU004": (edit(tp(6), gpus(6)), edit(tp(4), gpus(4))),
    "GPU005": (edit(tp(2), gpus(2), lambda o: ctr(o)["volumeMounts"].pop(1)), edit(tp(2), gpus(2))),
    "GPU006": (
        edit(
            lambda o: pod(o)["volumes"][1]["emptyDir"].pop("sizeLimit"),
            lambda o: ctr(o)["resources"]["limits"].pop("memory"),
        ),
        expert,
    ),
    "GPU007": (edit(set_path("ctr", "startupProbe", DELETE)), expert),
    "GPU008": (edit(set_path("ctr", "livenessProbe.timeoutSeconds", 1)), expert),
    "GPU009": (edit(set_path("ctr", "readinessProbe", {"httpGet": {"path": "/", "port": 8000}})), expert),
    "GPU010": (edit(lambda o: ctr(o)["resources"]["limits"].pop("memory")), expert),
    "GPU011": (edit(lambda o: env(o, "HUGGING_FACE_HUB_TOKEN", "hf_abc")), expert),
    "GPU012": (edit(set_path("ctr", "image", "vllm/vllm-openai:latest")), expert),
    "GPU013": (edit(set_path("pod", "tolerations", DELETE)), expert),
    "GPU014": (edit(replace_args("serve", "meta-llama/Llama-3.1-8B-Instruct")), expert),
    "GPU015": (
        edit(set_path("dep", "spec.strategy", DELETE)),
        edit(set_path("dep", "spec.strategy", {"type": "Recreate"})),
    ),
    "GPU016": (edit(lambda o: ctr(o)["env"].pop(0), lambda o: ctr(o)["env"].pop(0)), expert),
    "GPU017": (
        edit(gpus(1, "nvidia.com/gpu.shared")),
        edit(
            gpus(1, "nvidia.com/gpu.shared"),
            replace_args(
                "serve",
                "meta-llama/Llama-3.1-8B-Instruct",
                "--max-model-len=2048",
                "--gpu-memory-utilization=0.45",
            ),
        ),
    ),
    "GPU018": (edit(set_path("pod", "runtimeClassName", DELETE)), expert),
    "GPU019": (
        edit(
            set_path("pod", "enableServiceLinks", DELETE),
            lambda o: find(o, "Service")["metadata"].update(name="vllm"),
        ),
        edit(lambda o: find(o, "Service")["metadata"].update(name="vllm")),
    ),
    "GPU020": (
        edit(
            set_path("pod", "nodeSelector", {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}),
            lambda o: ctr(o)["args"].append("--dtype=bfloat16"),
        ),
        edit(
            set_path("pod", "nodeSelector", {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}),
            lambda o: ctr(o)["args"].append("--dtype=half"),
        ),
    ),
    "GPU021": (
        edit(lambda o: ctr(o)["volumeMounts"].pop(0)),
        edit(
            lambda o: ctr(o)["volumeMounts"].pop(0),
            lambda o: ctr(o)["resources"]["requests"].update({"ephemeral-storage": "50Gi"}),
        ),
    ),
    "GPU022": (
        lambda: [
            *yaml.safe_load_all(
                LWS.replace("CAPS", "SYS_NICE").replace("memory: 1000Gi}", "memory: 1000Gi, rdma/ib: 1}")
            )
        ],
        lambda: [*yaml.safe_load_all(LWS.replace("CAPS", "IPC_LOCK"))],
    ),
    "GPU023": (
        lambda: [yaml.safe_load(ISVC.replace("ANNOTATION", "a: b"))],
        lambda: [
            yaml.safe_load(ISVC.replace("ANNOTATION", "serving.kserve.io/deploymentMode: RawDeployment"))
        ],
    ),
    "GPU024": (
        edit(
            lambda o: find(o, "HorizontalPodAutoscaler")["spec"].update(
                metrics=[
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 80},
                        },
                    }
                ]
            )
        ),
        expert,
    ),
    "GPU025": (
        edit(set_path("pod", "terminationGracePeriodSeconds", 30), set_path("ctr", "lifecycle", DELETE)),
        expert,
    ),
    "GPU026": (edit(lambda o: env(o, "NVIDIA_VISIBLE_DEVICES", "all")), expert),
    "GPU027": (edit(gpus(16), tp(16)), edit(gpus(8), tp(8))),
    "GPU028": (
        edit(
            lambda o: pod(o)["volumes"].__setitem__(0, {"name": "models", "emptyDir": {"sizeLimit": "40Gi"}})
        ),
        expert,
    ),
    "GPU029": (
        edit(
            replace_args(
                "serve",
                "meta-llama/Llama-3.1-8B-Instruct",
                "--max-model-len=8192",
                "--gpu-memory-utilization=1.0",
            )
        ),
        expert,
    ),
    "FIT001": (
        edit(replace_args("serve", "meta-llama/Llama-3.1-70B-Instruct", "--max-model-len=8192")),
        expert,
    ),
    "FIT002": (
        edit(replace_args("serve", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len=131072")),
        expert,
    ),
    "FIT003": (
        edit(
            replace_args("serve", "Qwen/Qwen3-32B", "--tensor-parallel-size=6", "--max-model-len=4096"),
            gpus(6),
        ),
        edit(
            replace_args("serve", "Qwen/Qwen3-32B", "--tensor-parallel-size=4", "--max-model-len=4096"),
            gpus(4),
        ),
    ),
    "FIT004": (
        edit(replace_args("serve", "meta-llama/Meta-Llama-3-8B-Instruct", "--max-model-len=16384")),
        edit(replace_args("serve", "meta-llama/Meta-Llama-3-8B-Instruct", "--max-model-len=8192")),
    ),
    "SEC001": (edit(set_path("ctr", "securityContext.privileged", True)), expert),
    "SEC002": (edit(set_path("ctr", "securityContext.allowPrivilegeEscalation", True)), expert),
    "SEC003": (edit(set_path("ctr", "securityContext.runAsUser", 0)), expert),
    "SEC004": (
        edit(set_path("ctr", "securityContext.capabilities.add", ["SYS_ADMIN"])),
        edit(set_path("ctr", "securityContext.capabilities.add", ["IPC_LOCK"])),
    ),
    "SEC005": (edit(set_path("ctr", "securityContext.capabilities", DELETE)), expert),
    "SEC006": (
        edit(lambda o: pod(o)["volumes"].__setitem__(0, {"name": "models", "hostPath": {"path": "/models"}})),
        expert,
    ),
    "SEC007": (edit(set_path("pod", "hostNetwork", True)), expert),
    "SEC008": (edit(set_path("pod", "hostPID", True)), expert),
    "SEC009": (edit(set_path("pod", "hostIPC", True)), expert),
    "SEC010": (
        edit(set_path("pod", "automountServiceAccountToken", DELETE), drop_kind("ServiceAccount")),
        expert,
    ),
    "SEC011": (
        edit(lambda o: env(o, "OPENAI_API_KEY", "sk-123")),
        edit(lambda o: env(o, "MAX_INPUT_TOKENS", "2048")),
    ),
    "SEC012": (edit(_sidecar(image="busybox")), edit(_sidecar())),
    "SEC013": (
        edit(
            lambda o: pod(o)["volumes"].append({"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}})
        ),
        expert,
    ),
    "SEC014": (edit(lambda o: ctr(o)["ports"][0].update(hostPort=8000)), expert),
    "SEC015": (edit(set_path("pod", "securityContext.seccompProfile", {"type": "Unconfined"})), expert),
    "SEC016": (
        edit(
            add(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: llm}\ndata: {DB_PASSWORD: hunter2}"
            )
        ),
        edit(
            add(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: llm}\ndata: {MAX_TOKENS: '2048'}"
            )
        ),
    ),
    "SEC017": (edit(set_path("ctr", "securityContext.procMount", "Unmasked")), expert),
    "REL001": (edit(set_path("ctr", "readinessProbe", DELETE)), expert),
    "REL002": (edit(set_path("ctr", "livenessProbe", DELETE)), expert),
    "REL003": (edit(lambda o: ctr(o)["resources"]["requests"].pop("cpu")), expert),
    "REL004": (edit(_sidecar(resources={"requests": {"cpu": "10m"}})), expert),
    "REL005": (edit(_sidecar(resources={"requests": {"cpu": "10m", "memory": "16Mi"}})), edit(_sidecar())),
    "REL006": (
        edit(set_path("dep", "spec.replicas", 3), drop_kind("PodDisruptionBudget")),
        edit(set_path("dep", "spec.replicas", 3)),
    ),
    "REL007": (
        edit(set_path("dep", "spec.replicas", 3), set_path("pod", "topologySpreadConstraints", DELETE)),
        edit(set_path("dep", "spec.replicas", 3)),
    ),
    "REL008": (edit(set_path("pod", "terminationGracePeriodSeconds", 0)), expert),
    "REL009": (
        edit(lambda o: find(o, "Deployment")["spec"]["selector"].update(matchLabels={"app": "other"})),
        expert,
    ),
    "REL010": (edit(lambda o: find(o, "PodDisruptionBudget")["spec"].update(maxUnavailable=0)), expert),
    "REL011": (edit(lambda o: env(o, "HF_HOME", "/models")), expert),
    "REL012": (edit(set_path("ctr", "readinessProbe.httpGet.port", "web")), expert),
    "REL013": (
        edit(
            add(
                "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: models, namespace: llm}\n"
                "spec: {accessModes: [ReadWriteMany], storageClassName: gp2, resources: {requests: {storage: 30Gi}}}"
            )
        ),
        edit(
            add(
                "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: models, namespace: llm}\n"
                "spec: {accessModes: [ReadWriteMany], storageClassName: efs-sc, resources: {requests: {storage: 30Gi}}}"
            )
        ),
    ),
    "SCALE001": (
        edit(
            lambda o: find(o, "HorizontalPodAutoscaler")["spec"]["behavior"]["scaleDown"].update(
                stabilizationWindowSeconds=30
            )
        ),
        expert,
    ),
    "SCALE002": (edit(add(KEDA.replace("MIN", "0"))), edit(add(KEDA.replace("MIN", "1")))),
    "SCALE003": (
        edit(lambda o: find(o, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"].update(name="lama")),
        expert,
    ),
    "SCALE004": (edit(set_path("dep", "spec.replicas", 2)), expert),
    "SCALE005": (edit(lambda o: find(o, "HorizontalPodAutoscaler")["spec"].update(minReplicas=4)), expert),
    "NET001": (edit(drop_kind("NetworkPolicy")), expert),
    "NET002": (
        edit(lambda o: find(o, "Service")["spec"].update(type="LoadBalancer")),
        edit(
            lambda o: find(o, "Service")["spec"].update(type="LoadBalancer"),
            lambda o: ctr(o)["args"].append("--api-key=$(API_KEY)"),
        ),
    ),
    "NET003": (edit(lambda o: find(o, "Service")["spec"].update(selector={"app": "lama"})), expert),
    "NET004": (
        edit(
            add(
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: llm}\nspec: {rules: [{host: a.example}]}"
            )
        ),
        edit(
            add(
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: llm}\n"
                "spec: {tls: [{hosts: [a.example], secretName: t}], rules: [{host: a.example}]}"
            )
        ),
    ),
    "NET005": (edit(lambda o: find(o, "Service")["spec"]["ports"][0].update(targetPort="web")), expert),
    "NET007": (
        edit(add(SERVICE_MONITOR.replace("APP", "lama"))),
        edit(add(SERVICE_MONITOR.replace("APP", "llama"))),
    ),
    "NET006": (
        edit(lambda o: find(o, "NetworkPolicy")["spec"].update(podSelector={"matchLabels": {"app": "lama"}})),
        expert,
    ),
}

# Rules whose failing case is a whole different object kind, checked with their own passing case above.
GPU_TIME_SLICING_BAD = edit(add(TIME_SLICING))
KUBEAI_BAD = KUBEAI.replace("ARGS", "--max-model-len=8192").replace("  cacheProfile: CACHE\n", "")
KUBEAI_GOOD = KUBEAI.replace("ARGS", "--max-model-len=8192").replace("CACHE", "efs")
STORAGE_BAD = STORAGE.replace("MEM", "4Gi")
STORAGE_GOOD = STORAGE.replace("MEM", "24Gi")
