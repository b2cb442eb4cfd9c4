"""Knative `Service` (serving.knative.dev): the revision's pod template; Knative adds a queue-proxy
sidecar and starts each new revision's pods before it drains the old ones."""

from __future__ import annotations

from collections.abc import Iterator

from kubellm.lint.loader import K8sObject
from kubellm.lint.workload import ConfigMapLookup, PodView, as_dict, template_pod

KNATIVE_GROUP = "serving.knative.dev/"


def is_knative(obj: K8sObject) -> bool:
    return obj.api_version.startswith(KNATIVE_GROUP)


def knative_service_pods(obj: K8sObject, configmaps: ConfigMapLookup) -> Iterator[PodView]:
    pod = template_pod(
        obj,
        as_dict(obj.spec.get("template")),
        "spec.template",
        configmaps,
        role="revision",
        controller_labels={
            "serving.knative.dev/service": obj.name,
            "serving.knative.dev/configuration": obj.name,
            "serving.knative.dev/revision": None,
            "app": None,
        },
        max_surge="100%",  # a new revision's pods start before the old revision scales down
    )
    if pod is not None:
        yield pod
