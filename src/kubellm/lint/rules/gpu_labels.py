"""GPU031: a GPU node label value that no GPU has, so the pod never schedules."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from kubellm.catalog import Catalog
from kubellm.lint.context import LintContext
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.gpu import node_label_values, strip_product
from kubellm.lint.registry import rule
from kubellm.lint.workload import PodView

GFD_PRODUCT = "nvidia.com/gpu.product"
# Labels whose values form a closed set the cloud defines (GKE, Karpenter on EKS): a close miss is a typo.
CLOSED_LABELS = ("cloud.google.com/gke-accelerator", "karpenter.k8s.aws/instance-gpu-name")


GKE = "cloud.google.com/gke-accelerator"


def _label_values(catalog: Catalog, key: str) -> list[str]:
    if key == GFD_PRODUCT:
        return sorted({v for g in catalog.gpus for v in g.product_labels})
    values = {v for g in catalog.gpus for k, v in g.cloud_labels if k == key} | _instance_label_values(key)
    if key == GKE:  # GKE label spellings the catalog keeps as aliases ('nvidia-h100-mega-80gb')
        values |= {a for g in catalog.gpus for a in g.aliases if a.startswith("nvidia-")}
    return sorted(values)


@cache
def _instance_label_values(key: str) -> frozenset[str]:
    """Values the providers' instance shapes carry under ``key``, shared ones too (Karpenter's 'a100')."""
    from kubellm.catalog.providers import GKE_ACCELERATOR_LABEL, all_providers

    found: set[str] = set()
    for p in all_providers().values():
        for i in p.instances:
            if key == GKE_ACCELERATOR_LABEL and i.accelerator:
                found.add(i.accelerator)
            if key == p.cloud_gpu_label_key and i.gpu_name:
                found.add(i.gpu_name)
    return frozenset(found)


@rule(
    "GPU031",
    "gpu-label-unknown",
    Severity.ERROR,
    "A GPU node selector names a GPU label value that no node has",
    why="GPU nodes carry fixed label values (`nvidia.com/gpu.product: NVIDIA-L4` from GPU feature discovery, "
    "`cloud.google.com/gke-accelerator: nvidia-l4`, `karpenter.k8s.aws/instance-gpu-name: l4`); a selector with "
    "any other value matches no node and the pod stays Pending (`didn't match Pod's node affinity/selector`). A "
    "value close to a known GPU's is an error; one the catalog does not know at all is a warning.",
    fix="Use the exact value the nodes carry (`kubectl get nodes -L nvidia.com/gpu.product`); `kubellm gpus` lists "
    "the values kubellm knows for each GPU.",
    bad="nodeSelector: {cloud.google.com/gke-accelerator: nvidia-tesla-l4}",
    good="nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}",
    managed=True,
    needs="gpu",
)
def gpu_label_unknown(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    if not pod.uses_gpu:
        return
    for key, value in node_label_values(pod.spec):
        if key != GFD_PRODUCT and key not in CLOSED_LABELS:
            continue
        catalog = ctx.catalog  # loaded only for pods that name a GPU
        known = _label_values(catalog, key)
        if value in known or (catalog.find_gpu(value) is not None and key == GFD_PRODUCT):
            continue
        near = catalog.find_gpu(value) or catalog.find_gpu(strip_product(value))
        where = (
            f"{pod.path}.nodeSelector" if key in pod.spec.get("nodeSelector", {}) else f"{pod.path}.affinity"
        )
        if key == GFD_PRODUCT:
            if near is None:
                yield Hit(
                    f"{key}={value} names no GPU kubellm knows: no node may carry it (known: {', '.join(known[:6])}…)",
                    where,
                    severity=Severity.WARNING,
                )
            continue
        right = [v for k, v in (near.cloud_labels if near else ()) if k == key]
        if right:
            yield Hit(
                f"no node is labelled {key}={value}: {near.name if near else ''} nodes carry {right[0]!r}",
                where,
            )
        else:
            yield Hit(
                f"{key}={value} is not a value kubellm knows ({', '.join(known)}): check it against your nodes",
                where,
                severity=Severity.WARNING,
            )
