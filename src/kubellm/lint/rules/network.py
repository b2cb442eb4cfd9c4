"""NET rules: NetworkPolicy coverage, exposure of unauthenticated engines, Service and Ingress wiring."""

from __future__ import annotations

from collections.abc import Iterator

from kubellm.lint.context import LintContext, selector_matches
from kubellm.lint.exposure import Exposure, exposed_pods, exposures
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.loader import K8sObject
from kubellm.lint.registry import rule
from kubellm.lint.workload import PodView, as_dict, as_list


def _policies_selecting(ctx: LintContext, pod: PodView) -> list[K8sObject]:
    found = []
    for policy in ctx.by_kind("NetworkPolicy"):
        if policy.namespace and pod.obj.namespace and policy.namespace != pod.obj.namespace:
            continue
        types = [str(t) for t in as_list(policy.spec.get("policyTypes"))] or ["Ingress"]
        if "Ingress" in types and selector_matches(as_dict(policy.spec.get("podSelector")), pod.all_labels):
            found.append(policy)
    return found


def _serving_engine_pods(ctx: LintContext) -> list[PodView]:
    return [
        p
        for p in ctx.pods
        if p.engines and not p.template and p.obj.kind not in ("Job", "CronJob", "NIMCache")
    ]


@rule(
    "NET001",
    "engine-not-isolated",
    Severity.WARNING,
    "No NetworkPolicy restricts who can reach the LLM engines of a namespace",
    why="Engines serve an unauthenticated OpenAI-compatible API: any pod in the cluster can use the GPUs, read "
    "other users' prompts through the cache metrics, or load LoRA adapters. Many teams keep NetworkPolicies "
    "apart from the workloads, so this is said once per namespace, as info — a warning when an engine of "
    "the namespace is also reachable from outside the cluster.",
    fix="Add a NetworkPolicy selecting the engine pods that admits only the gateway (and Prometheus).",
    bad="# engine Deployment and no NetworkPolicy selecting it",
    good="kind: NetworkPolicy\nspec: {podSelector: {matchLabels: {app: llm}}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchLabels: {app: gateway}}}]}]}",
    scope="set",
)
def engine_not_isolated(ctx: LintContext) -> Iterator[Hit]:
    reached = exposed_pods(ctx)
    by_namespace: dict[str, list[PodView]] = {}
    for pod in _serving_engine_pods(ctx):
        if not _policies_selecting(ctx, pod):
            by_namespace.setdefault(pod.obj.namespace, []).append(pod)
    for namespace, pods in by_namespace.items():
        names = list(dict.fromkeys(f"{p.obj.kind}/{p.obj.name}" for p in pods))
        exposed = [reached[id(p)] for p in pods if id(p) in reached]
        where = f"namespace {namespace!r}" if namespace else "the manifests' namespace"
        message = f"no NetworkPolicy selects the LLM engine pods in {where}: {', '.join(names)}"
        if exposed:
            message += f"; {exposed[0].how} exposes them outside the cluster"
        yield Hit(message, pods[0].path, obj=pods[0].obj, severity=None if exposed else Severity.INFO)


@rule(
    "NET002",
    "engine-exposed-without-auth",
    Severity.ERROR,
    "An LLM engine without an API key is exposed outside the cluster",
    why="A LoadBalancer or NodePort Service, an OpenShift Route, an Ingress or an HTTPRoute in front of an engine "
    "without `--api-key` (Ollama, NIM and Triton have none) hands free GPU time, and whatever the model knows, to "
    "anyone who reaches it.",
    fix="Put an authenticating gateway in front (and expose that), or set `--api-key` from a Secret; keep the "
    "engine Service ClusterIP and the Route/Ingress on the gateway.",
    bad="kind: Service\nspec: {type: LoadBalancer, selector: {app: vllm}}",
    good="kind: Service\nspec: {type: ClusterIP, selector: {app: vllm}}",
    scope="set",
)
def engine_exposed(ctx: LintContext) -> Iterator[Hit]:
    # One problem, one finding: an engine without a key reached several ways is reported once, on the
    # first way, naming the others (one key fixes them all).
    reached: dict[int, tuple[PodView, str, list[Exposure]]] = {}
    for exposure in exposures(ctx):
        if exposure.guarded:
            continue
        for pod in exposure.pods:
            open_engines = [c for c in pod.engines if c.engine and not c.engine.api_key and not c.engine.rank]
            if open_engines:
                engine = open_engines[0].engine.engine if open_engines[0].engine else "engine"
                ways = reached.setdefault(id(pod.obj), (pod, engine, []))[2]
                if exposure not in ways:
                    ways.append(exposure)
    for pod, engine, ways in reached.values():
        first, more = ways[0], ways[1:]
        also = f" (and {', '.join(w.how for w in more)})" if more else ""
        yield Hit(
            f"{first.how}{also} exposes {pod.obj.kind} {pod.obj.name!r}, whose {engine} engine has no API key",
            first.path,
            obj=first.obj,
        )


@rule(
    "NET003",
    "service-selects-nothing",
    Severity.WARNING,
    "A Service selects no pod of these manifests",
    why="A Service whose selector matches nothing has no endpoints: clients get connection refused.",
    fix="Make the Service selector match the pod template labels.",
    bad="selector: {app: llama}   # pods are labelled app: llm",
    good="selector: {app: llm}",
    scope="object",
    kinds=("Service",),
)
def service_selects_nothing(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    selector = as_dict(obj.spec.get("selector"))
    same_ns = [
        p
        for p in ctx.pods
        if not p.managed and (p.obj.namespace == obj.namespace or not obj.namespace or not p.obj.namespace)
    ]
    if selector and same_ns and not ctx.pods_selected(selector, obj.namespace):
        yield Hit(f"selector {selector} matches no pod template here", "spec.selector")


@rule(
    "NET004",
    "ingress-without-tls",
    Severity.WARNING,
    "An Ingress serves plain HTTP",
    why="Prompts, completions and API keys cross the network in clear text.",
    fix="Add `spec.tls` with a certificate (cert-manager can issue it).",
    bad="kind: Ingress\nspec: {rules: [{host: llm.example.com}]}",
    good="kind: Ingress\nspec: {tls: [{hosts: [llm.example.com], secretName: llm-tls}], rules: [{host: llm.example.com}]}",
    scope="object",
    kinds=("Ingress",),
)
def ingress_without_tls(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    if not obj.spec.get("tls"):
        yield Hit("Ingress has no tls section", "spec")


@rule(
    "NET005",
    "service-port-unknown",
    Severity.ERROR,
    "A Service targets a named port no selected container declares",
    why="Endpoints are created without the port: every connection fails although the pods are ready.",
    fix="Use a port name declared in the containers' `ports`, or the number.",
    bad="ports: [{port: 80, targetPort: http}]   # container port is named 'web'",
    good="ports: [{port: 80, targetPort: web}]",
    scope="object",
    kinds=("Service",),
)
def service_port_unknown(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    pods = ctx.pods_selected(as_dict(obj.spec.get("selector")), obj.namespace)
    if not pods:
        return
    names = {
        str(as_dict(p).get("name"))
        for pod in pods
        for c in pod.containers
        for p in as_list(c.data.get("ports"))
    }
    for i, port in enumerate(as_list(obj.spec.get("ports"))):
        target = as_dict(port).get("targetPort")
        if isinstance(target, str) and not target.isdigit() and target not in names:
            yield Hit(
                f"targetPort {target!r} is not a port name of the selected containers",
                f"spec.ports[{i}].targetPort",
            )


@rule(
    "NET006",
    "networkpolicy-selects-nothing",
    Severity.INFO,
    "A NetworkPolicy selects no pod of these manifests",
    why="A policy with a mistyped selector protects nothing while looking like it does.",
    fix="Make `podSelector` match the pod template labels (an empty selector selects every pod).",
    bad="podSelector: {matchLabels: {app: vlm}}",
    good="podSelector: {matchLabels: {app: vllm}}",
    scope="object",
    kinds=("NetworkPolicy",),
)
def networkpolicy_selects_nothing(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    selector = as_dict(obj.spec.get("podSelector"))
    pods = [
        p
        for p in ctx.pods
        if p.all_labels and (p.obj.namespace == obj.namespace or not obj.namespace or not p.obj.namespace)
    ]
    if selector and pods and not any(selector_matches(selector, p.all_labels) for p in pods):
        yield Hit("podSelector matches no pod template here", "spec.podSelector")


@rule(
    "NET007",
    "servicemonitor-selects-nothing",
    Severity.INFO,
    "A ServiceMonitor selects no Service of these manifests",
    why="Prometheus then scrapes nothing: queue-length and KV-cache metrics (and the autoscaler fed by them) stay empty.",
    fix="Make `spec.selector` match the labels of the engine's Service (not the pods), and name its port in `endpoints`.",
    bad="kind: ServiceMonitor\nspec: {selector: {matchLabels: {app: vlm}}, endpoints: [{port: http}]}",
    good="kind: ServiceMonitor\nspec: {selector: {matchLabels: {app: llama}}, endpoints: [{port: http}]}",
    scope="object",
    kinds=("ServiceMonitor",),
)
def servicemonitor_selects_nothing(obj: K8sObject, ctx: LintContext) -> Iterator[Hit]:
    selector = as_dict(obj.spec.get("selector"))
    services = ctx.by_kind("Service")
    if not selector or not services:
        return
    any_namespace = as_dict(obj.spec.get("namespaceSelector")).get("any") is True
    for svc in services:
        same_ns = any_namespace or svc.namespace == obj.namespace or not svc.namespace or not obj.namespace
        if same_ns and selector_matches(selector, svc.labels):
            return
    yield Hit("selector matches no Service here (ServiceMonitors select Services, not pods)", "spec.selector")
