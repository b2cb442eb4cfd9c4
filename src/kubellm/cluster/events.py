"""Events, read the same way from core/v1 (kubectl get events) and events.k8s.io/v1 objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubellm.cluster.objects import as_dict, dig, name_of, namespace_of
from kubellm.cluster.snapshot import ClusterSnapshot


@dataclass(frozen=True, slots=True)
class EventView:
    kind: str
    namespace: str
    name: str
    reason: str
    message: str
    count: int
    type: str


def view(event: dict[str, Any]) -> EventView:
    target = as_dict(event.get("involvedObject") or event.get("regarding"))
    count = event.get("count") or dig(event, "series", "count") or event.get("deprecatedCount") or 1
    return EventView(
        kind=str(target.get("kind", "")),
        namespace=str(target.get("namespace") or namespace_of(event)),
        name=str(target.get("name", "")),
        reason=str(event.get("reason", "")),
        message=str(event.get("message") or event.get("note") or ""),
        count=int(count) if isinstance(count, int | float | str) and str(count).isdigit() else 1,
        type=str(event.get("type", "")),
    )


def _index(snap: ClusterSnapshot) -> dict[tuple[str, str], list[EventView]]:
    def build() -> dict[tuple[str, str], list[EventView]]:
        index: dict[tuple[str, str], list[EventView]] = {}
        for event in snap.events:
            v = view(event)
            index.setdefault((v.kind, v.name), []).append(v)
        return index

    return snap.memo("events-by-target", build)


def events_for(snap: ClusterSnapshot, kind: str, namespace: str, name: str) -> list[EventView]:
    return [v for v in _index(snap).get((kind, name), []) if v.namespace in (namespace, "")]


def pod_events(snap: ClusterSnapshot, pod: dict[str, Any]) -> list[EventView]:
    return events_for(snap, "Pod", namespace_of(pod), name_of(pod))
