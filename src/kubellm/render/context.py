"""RenderContext: the plan plus every name, label and path the object builders share.

Built once per render; every builder reads from it, so names and labels agree across objects
(a Service selects exactly the pods its Deployment labels, a NetworkPolicy names the same ports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubellm.catalog import GpuSpec, ModelArch
from kubellm.engines import served_name
from kubellm.planning.result import Plan
from kubellm.render.engines import EngineAdapter, EngineContext, adapter_for
from kubellm.spec import LLMService

MODELS_DIR = "/models"
CACHE_DIR = "/cache"
GATEWAY_PORT = 8080
GATEWAY_CONFIG_PATH = "/etc/kubellm/gateway.yaml"
GATEWAY_KEYS_DIR = "/etc/kubellm/keys"
MONITORING_NAMESPACE = "monitoring"
PART_OF = "kubellm"


@dataclass(frozen=True)
class RenderOptions:
    """Choices that are about the output rather than the service."""

    namespace_object: bool = True
    k8s_version: str = "1.29"
    # The instance name of a gateway shared by the namespace's services (kubellm.render.front_door):
    # the service renders no gateway of its own, and its engines admit that one.
    gateway_instance: str | None = None
    # Render the GPU ResourceQuota when the namespace is the service's own (named after it); a render of
    # several services writes one quota per namespace instead.
    service_quota: bool = True
    # `render --gateway-image`: the kubellm gateway image, over the spec's gateway.image and the default.
    gateway_image: str | None = None


@dataclass(frozen=True)
class RenderContext:
    plan: Plan
    model: ModelArch
    gpu: GpuSpec | None
    adapter: EngineAdapter
    engine: EngineContext
    options: RenderOptions

    @property
    def spec(self) -> LLMService:
        return self.plan.spec

    @property
    def name(self) -> str:
        return self.spec.metadata.name

    @property
    def namespace(self) -> str:
        return self.spec.metadata.namespace

    @property
    def served_name(self) -> str:
        return self.engine.served_name

    @property
    def multi_node(self) -> bool:
        return self.plan.parallelism.nodes_per_replica > 1

    @property
    def on_gpu(self) -> bool:
        return self.plan.resources.gpu_count > 0

    @property
    def engine_service(self) -> str:
        return f"{self.name}-engine"

    @property
    def gateway_name(self) -> str:
        return f"{self.name}-gateway"

    @property
    def renders_gateway(self) -> bool:
        """Whether this service renders its own kubellm gateway (enabled, and not fronted by a shared one)."""
        return (
            self.spec.gateway.enabled
            and self.spec.gateway.kind == "kubellm"
            and self.options.gateway_instance is None
        )

    def gateway_parent(self) -> tuple[str, str]:
        """(namespace, name) of gateway.gateway_ref ('namespace/name', or 'name' in the service's namespace)."""
        namespace, _, name = (self.spec.gateway.gateway_ref or "").rpartition("/")
        return namespace or self.namespace, name

    @property
    def inference_pool(self) -> bool:
        """Whether a Gateway API Inference Extension pool routes to the engines instead of kubellm's gateway."""
        return self.spec.gateway.enabled and self.spec.gateway.kind == "inference-extension"

    def gateway_selector(self) -> dict[str, str]:
        """The labels of the gateway pods in front of this service (its own, or the namespace's shared one)."""
        return {
            "app.kubernetes.io/instance": self.options.gateway_instance or self.name,
            "app.kubernetes.io/component": "gateway",
        }

    @property
    def engine_dns(self) -> str:
        return f"{self.engine_service}.{self.namespace}.svc.cluster.local"

    def labels(self, component: str) -> dict[str, str]:
        """Labels of every object of one component (engine, gateway, prefetch, …)."""
        base = dict(sorted(self.spec.metadata.labels.items()))
        base.update(
            {
                "app.kubernetes.io/name": self.name,
                "app.kubernetes.io/instance": self.name,
                "app.kubernetes.io/component": component,
                "app.kubernetes.io/part-of": PART_OF,
                "app.kubernetes.io/managed-by": PART_OF,
            }
        )
        return base

    def selector(self, component: str) -> dict[str, str]:
        """The labels a selector matches for one component."""
        return {"app.kubernetes.io/instance": self.name, "app.kubernetes.io/component": component}

    def meta(self, name: str, component: str, **extra: Any) -> dict[str, Any]:
        """Object metadata: name, namespace and the component's labels."""
        out: dict[str, Any] = {"name": name, "namespace": self.namespace, "labels": self.labels(component)}
        out.update(extra)
        return out


def build_context(plan: Plan, options: RenderOptions) -> RenderContext:
    """The shared context of one render (paths of the weights and caches included); model and GPU
    come from the plan, never from a second catalog lookup."""
    from kubellm.render.object_store import STREAMER_LOAD_FORMAT, object_store_mode
    from kubellm.render.storage import model_path

    spec = plan.spec
    adapter = adapter_for(spec.engine.name.value)
    model = plan.model_arch
    gpu = plan.gpu_spec if plan.on_gpu else None
    engine = EngineContext(
        plan=plan,
        model=model,
        gpu=gpu,
        model_path=model_path(spec),
        served_name=served_name(spec),
        cache_dir=CACHE_DIR,
        multi_node=plan.parallelism.nodes_per_replica > 1,
        load_format=STREAMER_LOAD_FORMAT if object_store_mode(spec) == "streamer" else None,
    )
    return RenderContext(plan=plan, model=model, gpu=gpu, adapter=adapter, engine=engine, options=options)
