"""Plan → Kubernetes objects (plain dicts): engine adapters, object builders, output writers.

``render(plan)`` is deterministic: the same spec gives the same objects in the same order, and
``to_yaml`` the same bytes. ``render_services(plans)`` renders several services together: one gateway
and one GPU quota per namespace. ``render_cluster(cluster_spec)`` writes the GPU setup of a cluster.
"""

from kubellm.render.context import RenderOptions
from kubellm.render.core import images, render, render_context
from kubellm.render.cpu import plan_service
from kubellm.render.front_door import render_services

__all__ = ["RenderOptions", "images", "plan_service", "render", "render_context", "render_services"]
