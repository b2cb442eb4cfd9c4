"""Which nodes a pod may run on, as the scheduler's filters decide before looking at free resources.

The default scheduler runs NodeUnschedulable, TaintToleration and NodeAffinity (nodeSelector plus required node
affinity) before NodeResourcesFit, and reports only the first filter a node fails. So "Insufficient nvidia.com/gpu"
counts only nodes the pod may use; any reasoning about node sizes must look at those nodes alone.
"""

from __future__ import annotations

from typing import Any

from kubellm.cluster.objects import as_dict, as_list, dig, labels_of, name_of, pod_spec

_FILTERED_EFFECTS = ("NoSchedule", "NoExecute")  # PreferNoSchedule only scores
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


def _taints(node: dict[str, Any]) -> list[dict[str, Any]]:
    taints = [t for t in as_list(dig(node, "spec", "taints")) if t.get("effect") in _FILTERED_EFFECTS]
    if dig(node, "spec", "unschedulable") is True and not any(
        t.get("key") == UNSCHEDULABLE_TAINT for t in taints
    ):
        taints.append({"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"})  # what `kubectl cordon` means
    return taints


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """Kubernetes' ToleratesTaint: effect (empty = all), key (empty with Exists = all), operator Exists or Equal."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"
    if key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return operator == "Equal" and str(toleration.get("value") or "") == str(taint.get("value") or "")


def taint_text(taint: dict[str, Any]) -> str:
    """'{key: value}' as the scheduler prints an untolerated taint."""
    return f"{{{taint.get('key', '')}: {taint.get('value') or ''}}}"


def untolerated_taints(pod: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    tolerations = as_list(pod_spec(pod).get("tolerations"))
    return [t for t in _taints(node) if not any(tolerates(tol, t) for tol in tolerations)]


def expression_matches(labels: dict[str, str], expr: dict[str, Any]) -> bool:
    """One nodeSelectorRequirement (In, NotIn, Exists, DoesNotExist, Gt, Lt) against a node's labels."""
    key, op = str(expr.get("key", "")), expr.get("operator")
    values = [str(v) for v in expr.get("values") or []] if isinstance(expr.get("values"), list) else []
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt") and values and _is_int(labels.get(key, "")) and _is_int(values[0]):
        have, bound = int(labels[key]), int(values[0])
        return have > bound if op == "Gt" else have < bound
    return False


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _field_matches(node: dict[str, Any], expr: dict[str, Any]) -> bool:
    """matchFields: only metadata.name exists (DaemonSet pods are pinned to their node this way)."""
    if expr.get("key") != "metadata.name":
        return False
    return expression_matches({"metadata.name": name_of(node)}, expr)


def selector_requirements(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's nodeSelector as In requirements (marked ``from_selector`` for the wording)."""
    selector = as_dict(pod_spec(pod).get("nodeSelector"))
    return [{"key": k, "operator": "In", "values": [v], "from_selector": True} for k, v in selector.items()]


def required_terms(pod: dict[str, Any]) -> list[dict[str, Any]]:
    path = ("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
    return as_list(dig(pod_spec(pod), *path))


def _term_matches(node: dict[str, Any], term: dict[str, Any]) -> bool:
    labels = labels_of(node)
    return all(expression_matches(labels, e) for e in as_list(term.get("matchExpressions"))) and all(
        _field_matches(node, e) for e in as_list(term.get("matchFields"))
    )


def matches_affinity(pod: dict[str, Any], node: dict[str, Any]) -> bool:
    """nodeSelector and (one of) the required node-affinity terms; the terms are ORed, a term's requirements ANDed."""
    labels = labels_of(node)
    if not all(expression_matches(labels, e) for e in selector_requirements(pod)):
        return False
    terms = required_terms(pod)
    return not terms or any(_term_matches(node, t) for t in terms)


def describe_requirement(expr: dict[str, Any], nodes: list[dict[str, Any]]) -> str:
    """'key=value (nodes have: a, b)' or 'key In [a,b] (nodes have: …)'."""
    key = str(expr.get("key", ""))
    present = sorted({labels_of(n)[key] for n in nodes if key in labels_of(n)})
    values = (
        ",".join(str(v) for v in expr.get("values") or []) if isinstance(expr.get("values"), list) else ""
    )
    if expr.get("from_selector"):
        wanted = f"{key}={values}"
    else:
        wanted = f"{key} {expr.get('operator')} [{values}]" if values else f"{key} {expr.get('operator')}"
    return f"{wanted} (nodes have: {', '.join(present) or 'no such label'})"


def unmet_requirements(pod: dict[str, Any], nodes: list[dict[str, Any]]) -> list[str] | None:
    """None when some node meets the selector and the required affinity; else the requirements no node meets on
    their own (of the first term), described."""
    if any(matches_affinity(pod, n) for n in nodes):
        return None
    exprs = selector_requirements(pod) + as_list((required_terms(pod) or [{}])[0].get("matchExpressions"))
    failing = [e for e in exprs if not any(expression_matches(labels_of(n), e) for n in nodes)]
    return [describe_requirement(e, nodes) for e in failing]


def exclusion(pod: dict[str, Any], node: dict[str, Any]) -> str | None:
    """Why the scheduler's filters rule the node out for this pod, or None. Every failing filter is named (the
    scheduler reports only the first): tolerating a taint does not help on a node whose GPU type the pod's
    affinity excludes."""
    reasons = []
    taints = untolerated_taints(pod, node)
    if any(t.get("key") == UNSCHEDULABLE_TAINT for t in taints):
        reasons.append("cordoned (spec.unschedulable)")
        taints = [t for t in taints if t.get("key") != UNSCHEDULABLE_TAINT]
    if taints:
        reasons.append("untolerated taint " + ", ".join(taint_text(t) for t in taints))
    if not matches_affinity(pod, node):
        labels = labels_of(node)
        unmet = [e for e in selector_requirements(pod) if not expression_matches(labels, e)]
        terms = required_terms(pod)
        if terms and not any(_term_matches(node, t) for t in terms):
            unmet += [
                e for e in as_list(terms[0].get("matchExpressions")) if not expression_matches(labels, e)
            ]
        reasons.append(
            "does not match the pod's "
            + ("; ".join(describe_requirement(e, [node]) for e in unmet) or "node affinity")
        )
    return " and ".join(reasons) or None


def eligible_nodes(pod: dict[str, Any], nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nodes that pass the scheduler's filters before the resource fit."""
    return [n for n in nodes if exclusion(pod, n) is None]
