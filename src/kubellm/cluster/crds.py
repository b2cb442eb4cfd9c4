"""What to tell a user when the cluster lacks an API the manifests use (a CRD that is not installed)."""

from __future__ import annotations

# API group → (what is missing, how to fix it). Install commands from each project's install docs.
_GROUP_FIXES: dict[str, tuple[str, str]] = {
    "keda.sh": (
        "KEDA is not installed",
        "install it (helm repo add kedacore https://kedacore.github.io/charts && helm install keda kedacore/keda "
        "-n keda --create-namespace) or set scaling.autoscaler: hpa",
    ),
    "monitoring.coreos.com": (
        "the Prometheus Operator is not installed (ServiceMonitor, PrometheusRule)",
        "install kube-prometheus-stack (helm install kps prometheus-community/kube-prometheus-stack -n monitoring "
        "--create-namespace) or set observability.service_monitor: false and observability.alerts: false",
    ),
    "leaderworkerset.x-k8s.io": (
        "LeaderWorkerSet is not installed (needed for multi-node replicas)",
        "install it (kubectl apply --server-side -f "
        "https://github.com/kubernetes-sigs/lws/releases/latest/download/manifests.yaml) or set gpu.nodes: 1",
    ),
    "gateway.networking.k8s.io": (
        "the Gateway API CRDs are not installed (HTTPRoute)",
        "install them (kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/latest/download/"
        "standard-install.yaml) or set gateway.ingress: ingress",
    ),
    "inference.networking.k8s.io": (
        "the Gateway API Inference Extension is not installed (InferencePool)",
        "install its CRDs (kubectl apply -f https://github.com/kubernetes-sigs/gateway-api-inference-extension/"
        "releases/download/v1.0.0/manifests.yaml) and a Gateway that supports it, or set gateway.kind: kubellm",
    ),
    "cert-manager.io": (
        "cert-manager is not installed",
        "install it (helm install cert-manager jetstack/cert-manager -n cert-manager --create-namespace "
        "--set crds.enabled=true) or unset gateway.cert_manager_issuer",
    ),
}


def missing_api_fix(api_version: str, kind: str) -> tuple[str, str]:
    """(what, fix) for a kind whose API the cluster does not serve."""
    group = api_version.split("/")[0] if "/" in api_version else ""
    if group in _GROUP_FIXES:
        what, fix = _GROUP_FIXES[group]
        return f"{what}: the cluster does not serve {kind} ({api_version})", fix
    return (
        f"the cluster does not serve {kind} ({api_version})",
        "install the CRD or controller that provides it, or check the Kubernetes version (kubectl api-resources)",
    )
