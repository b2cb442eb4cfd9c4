"""SEC rules: privileges, host access, identities, secrets and images of any workload."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubellm.lint.context import LintContext
from kubellm.lint.facts import TOKEN_ENV_NAMES, parse_image
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.loader import K8sObject
from kubellm.lint.registry import rule
from kubellm.lint.workload import PodView, as_dict, as_list

DANGEROUS_CAPS = frozenset(
    {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "BPF", "DAC_READ_SEARCH"}
)
SECRET_NAME = re.compile(
    r"(^|[_.-])(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)($|[_.-])", re.I
)
NOT_SECRET = re.compile(r"(MAX|NUM|MIN)_|_(TOKENS|PATH|FILE|DIR|NAME|LENGTH|LEN)$", re.I)
SENSITIVE_HOST_PATHS = ("/var/run/docker.sock", "/run/containerd/containerd.sock", "/var/run/crio/crio.sock")


@rule(
    "SEC001",
    "privileged-container",
    Severity.ERROR,
    "A container runs privileged",
    why="A privileged container has every capability and all host devices: a compromise of the (often "
    "unauthenticated) model server is a compromise of the node. GPU access never needs it.",
    fix="Remove `privileged: true`; GPUs come from the device plugin (`nvidia.com/gpu`) and `runtimeClassName: nvidia`.",
    bad="securityContext: {privileged: true}",
    good="securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}",
)
def privileged(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        if c.security.get("privileged") is True:
            yield Hit(f"container {c.name!r} is privileged", f"{c.path}.securityContext.privileged", c.name)


@rule(
    "SEC002",
    "privilege-escalation",
    Severity.WARNING,
    "A container explicitly allows privilege escalation",
    why="`allowPrivilegeEscalation: true` lets setuid binaries gain more privileges than the process started with.",
    fix="Set `allowPrivilegeEscalation: false`.",
    bad="securityContext: {allowPrivilegeEscalation: true}",
    good="securityContext: {allowPrivilegeEscalation: false}",
)
def privilege_escalation(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        if c.security.get("allowPrivilegeEscalation") is True:
            yield Hit(
                f"container {c.name!r} allows privilege escalation",
                f"{c.path}.securityContext.allowPrivilegeEscalation",
                c.name,
            )


@rule(
    "SEC003",
    "run-as-root",
    Severity.WARNING,
    "A container is told to run as root",
    why="`runAsUser: 0` or `runAsNonRoot: false` makes root explicit; a container escape then starts as root. "
    "(Upstream vLLM images run as root by default; use a non-root variant with a writable HOME and cache.)",
    fix="Run as a non-root UID the image supports (with HOME and HF_HOME on writable volumes) and set "
    "`runAsNonRoot: true`.",
    bad="securityContext: {runAsUser: 0}",
    good="securityContext: {runAsUser: 1000, runAsNonRoot: true}",
    mistakes=("M21",),
)
def run_as_root(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    pod_sc = as_dict(pod.spec.get("securityContext"))
    if pod_sc.get("runAsUser") == 0 or pod_sc.get("runAsNonRoot") is False:
        yield Hit("the pod securityContext runs as root", f"{pod.path}.securityContext")
    for c in pod.containers:
        if c.security.get("runAsUser") == 0 or c.security.get("runAsNonRoot") is False:
            yield Hit(f"container {c.name!r} is set to run as root", f"{c.path}.securityContext", c.name)


@rule(
    "SEC004",
    "dangerous-capabilities",
    Severity.ERROR,
    "A container adds a dangerous Linux capability",
    why="SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE or ALL give near-root power over the node. (IPC_LOCK for "
    "RDMA is fine and not reported.)",
    fix="Drop the capability; add only what the workload needs (IPC_LOCK for multi-node RDMA).",
    bad="securityContext: {capabilities: {add: [SYS_ADMIN]}}",
    good="securityContext: {capabilities: {add: [IPC_LOCK], drop: [ALL]}}",
)
def dangerous_capabilities(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        added = [
            str(x).upper().removeprefix("CAP_")
            for x in as_list(as_dict(c.security.get("capabilities")).get("add"))
        ]
        bad = [cap for cap in added if cap in DANGEROUS_CAPS]
        if bad:
            yield Hit(
                f"container {c.name!r} adds {', '.join(bad)}",
                f"{c.path}.securityContext.capabilities.add",
                c.name,
            )


@rule(
    "SEC005",
    "capabilities-not-dropped",
    Severity.INFO,
    "A container keeps the runtime's default capabilities",
    why="Default capabilities include NET_RAW (spoofing) and CHOWN/SETUID; an inference server needs none.",
    fix="Set `securityContext.capabilities.drop: [ALL]` (add back IPC_LOCK where RDMA needs it).",
    bad="securityContext: {}",
    good="securityContext: {capabilities: {drop: [ALL]}}",
)
def capabilities_not_dropped(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.main:
        dropped = [str(x).upper() for x in as_list(as_dict(c.security.get("capabilities")).get("drop"))]
        if "ALL" not in dropped and c.security.get("privileged") is not True:
            yield Hit(
                f"container {c.name!r} does not drop ALL capabilities", f"{c.path}.securityContext", c.name
            )


@rule(
    "SEC006",
    "host-path",
    Severity.WARNING,
    "The pod mounts a hostPath volume",
    why="hostPath exposes the node's filesystem; a writable one lets the pod plant files on the node, and the "
    "data is tied to one node (model caches on hostPath drift between nodes).",
    fix="Use a PVC (ReadWriteMany for a shared model cache) or a read-only mount of a specific directory.",
    bad="volumes: [{name: cache, hostPath: {path: /models}}]",
    good="volumes: [{name: cache, persistentVolumeClaim: {claimName: model-cache}}]",
)
def host_path(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for i, volume in enumerate(as_list(pod.spec.get("volumes"))):
        path = as_dict(as_dict(volume).get("hostPath")).get("path")
        if path and _timezone_read_only(pod, str(as_dict(volume).get("name") or ""), str(path)):
            continue  # the node's clock zone, read-only: the usual way to share it, and nothing to plant or keep
        if path and str(path) not in SENSITIVE_HOST_PATHS:
            yield Hit(
                f"hostPath volume {as_dict(volume).get('name')!r} mounts {path}",
                f"{pod.path}.volumes[{i}].hostPath",
            )


TIMEZONE_HOST_PATHS = ("/etc/localtime", "/etc/timezone", "/usr/share/zoneinfo")


def _timezone_read_only(pod: PodView, volume: str, path: str) -> bool:
    """A hostPath of the node's time zone files that every container mounts read-only."""
    if not any(path.rstrip("/") == p or path.startswith(p + "/") for p in TIMEZONE_HOST_PATHS):
        return False
    mounts = [m for c in pod.containers for m in c.mounts if m.get("name") == volume]
    return bool(mounts) and all(m.get("readOnly") is True for m in mounts)


@rule(
    "SEC007",
    "host-network",
    Severity.WARNING,
    "The pod uses the host's network namespace",
    why="hostNetwork bypasses NetworkPolicies and binds the model server's unauthenticated port on the node's "
    "addresses.",
    fix="Remove `hostNetwork: true`; for multi-node NCCL use RDMA devices or a secondary network (Multus).",
    bad="spec: {hostNetwork: true}",
    good="spec: {hostNetwork: false}",
)
def host_network(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.spec.get("hostNetwork") is True:
        yield Hit("hostNetwork is true", f"{pod.path}.hostNetwork")


@rule(
    "SEC008",
    "host-pid",
    Severity.ERROR,
    "The pod shares the host's process namespace",
    why="hostPID shows and lets the pod signal every process on the node.",
    fix="Remove `hostPID: true`.",
    bad="spec: {hostPID: true}",
    good="spec: {}",
)
def host_pid(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.spec.get("hostPID") is True:
        yield Hit("hostPID is true", f"{pod.path}.hostPID")


@rule(
    "SEC009",
    "host-ipc",
    Severity.WARNING,
    "The pod shares the host's IPC namespace",
    why="hostIPC (often a workaround for a small /dev/shm) shares the node's shared memory with every other "
    "hostIPC pod.",
    fix="Remove `hostIPC: true` and mount `emptyDir: {medium: Memory, sizeLimit: …}` at /dev/shm instead.",
    bad="spec: {hostIPC: true}",
    good="volumes: [{name: shm, emptyDir: {medium: Memory, sizeLimit: 16Gi}}]",
)
def host_ipc(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.spec.get("hostIPC") is True:
        yield Hit("hostIPC is true", f"{pod.path}.hostIPC")


@rule(
    "SEC010",
    "service-account-token",
    Severity.INFO,
    "The pod mounts a Kubernetes API token it does not need",
    why="Inference servers never call the Kubernetes API; a mounted token turns a model-server compromise into "
    "API access.",
    fix="Set `automountServiceAccountToken: false` on the pod (or its ServiceAccount).",
    bad="spec: {serviceAccountName: default}",
    good="spec: {automountServiceAccountToken: false}",
)
def service_account_token(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.spec.get("automountServiceAccountToken") is False:
        return
    sa_name = str(pod.spec.get("serviceAccountName") or pod.spec.get("serviceAccount") or "default")
    sa = ctx.find("ServiceAccount", sa_name, pod.obj.namespace)
    if (
        sa is not None
        and sa.data.get("automountServiceAccountToken") is False
        and pod.spec.get("automountServiceAccountToken") is None
    ):
        return
    yield Hit(f"service account {sa_name!r} token is mounted", pod.path)


@rule(
    "SEC011",
    "secret-literal-env",
    Severity.ERROR,
    "A credential is written as a literal environment value",
    why="Literal passwords, API keys and tokens are readable by anyone who can read the object and end up in Git.",
    fix="Move the value into a Secret and use `valueFrom.secretKeyRef`.",
    bad="env: [{name: OPENAI_API_KEY, value: sk-123}]",
    good="env: [{name: OPENAI_API_KEY, valueFrom: {secretKeyRef: {name: api, key: key}}}]",
)
def secret_literal_env(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        for i, item in enumerate(as_list(c.data.get("env"))):
            item = as_dict(item)
            name = str(item.get("name") or "")
            value = item.get("value")
            if (
                name in TOKEN_ENV_NAMES
                or not value
                or not SECRET_NAME.search(name)
                or NOT_SECRET.search(name)
                or str(value).startswith("/")
            ):
                continue
            yield Hit(
                f"env {name} has a literal value in container {c.name!r}", f"{c.path}.env[{i}].value", c.name
            )


@rule(
    "SEC012",
    "unpinned-image",
    Severity.WARNING,
    "A (non-engine) container image is untagged or on a moving tag",
    why="`latest` and untagged images change without a manifest change: rollbacks and audits stop meaning anything.",
    fix="Pin a version tag or a digest.",
    bad="image: busybox",
    good="image: busybox:1.36.1",
)
def image_unpinned_generic(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if pod.obj.kind in ("ServingRuntime", "ClusterServingRuntime", "ClusterStorageContainer"):
        return
    for c in pod.containers:
        ref = parse_image(c.image)
        if c.engine is None and c.image and not ref.pinned and not ref.placeholder:
            yield Hit(f"image {c.image!r} is not pinned", f"{c.path}.image", c.name)


@rule(
    "SEC013",
    "container-runtime-socket",
    Severity.ERROR,
    "The pod mounts the container runtime socket",
    why="The docker/containerd socket gives full control of every container on the node.",
    fix="Remove the socket mount.",
    bad="volumes: [{name: sock, hostPath: {path: /var/run/docker.sock}}]",
    good="volumes: []",
)
def runtime_socket(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for i, volume in enumerate(as_list(pod.spec.get("volumes"))):
        path = str(as_dict(as_dict(volume).get("hostPath")).get("path") or "")
        if path in SENSITIVE_HOST_PATHS:
            yield Hit(f"hostPath {path} is mounted", f"{pod.path}.volumes[{i}].hostPath.path")


@rule(
    "SEC014",
    "host-port",
    Severity.WARNING,
    "A container binds a port on the node (hostPort)",
    why="hostPort exposes the (usually unauthenticated) server on the node address and limits pods per node.",
    fix="Remove hostPort; expose the server through a Service (and the gateway).",
    bad="ports: [{containerPort: 8000, hostPort: 8000}]",
    good="ports: [{containerPort: 8000}]",
)
def host_port(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        for i, port in enumerate(as_list(c.data.get("ports"))):
            if as_dict(port).get("hostPort"):
                yield Hit(
                    f"container {c.name!r} binds hostPort {as_dict(port)['hostPort']}",
                    f"{c.path}.ports[{i}].hostPort",
                    c.name,
                )


@rule(
    "SEC015",
    "seccomp-unconfined",
    Severity.WARNING,
    "The seccomp profile is explicitly Unconfined",
    why="Unconfined disables the runtime's syscall filter.",
    fix="Use `seccompProfile: {type: RuntimeDefault}`.",
    bad="securityContext: {seccompProfile: {type: Unconfined}}",
    good="securityContext: {seccompProfile: {type: RuntimeDefault}}",
)
def seccomp_unconfined(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if as_dict(as_dict(pod.spec.get("securityContext")).get("seccompProfile")).get("type") == "Unconfined":
        yield Hit("pod seccomp profile is Unconfined", f"{pod.path}.securityContext.seccompProfile")
    for c in pod.containers:
        if as_dict(c.security.get("seccompProfile")).get("type") == "Unconfined":
            yield Hit(
                f"container {c.name!r} seccomp profile is Unconfined",
                f"{c.path}.securityContext.seccompProfile",
                c.name,
            )


@rule(
    "SEC016",
    "secret-in-configmap",
    Severity.WARNING,
    "A ConfigMap holds what looks like a credential",
    why="ConfigMaps are readable more widely than Secrets and are not encrypted at rest.",
    fix="Move the value into a Secret.",
    bad="kind: ConfigMap\ndata: {DB_PASSWORD: hunter2}",
    good="kind: Secret\nstringData: {DB_PASSWORD: hunter2}",
    scope="object",
    kinds=("ConfigMap",),
)
def secret_in_configmap(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    for key, value in as_dict(obj.data.get("data")).items():
        if (
            str(key) not in TOKEN_ENV_NAMES
            and SECRET_NAME.search(str(key))
            and not NOT_SECRET.search(str(key))
            and value
            and "\n" not in str(value)
        ):
            yield Hit(f"ConfigMap key {key} looks like a credential", f"data.{key}")


@rule(
    "SEC017",
    "unmasked-proc",
    Severity.WARNING,
    "A container unmasks /proc",
    why="`procMount: Unmasked` bypasses the runtime's masking of sensitive /proc paths.",
    fix="Remove `procMount` (Default).",
    bad="securityContext: {procMount: Unmasked}",
    good="securityContext: {}",
)
def unmasked_proc(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        if c.security.get("procMount") == "Unmasked":
            yield Hit(
                f"container {c.name!r} has procMount Unmasked", f"{c.path}.securityContext.procMount", c.name
            )
