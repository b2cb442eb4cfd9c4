"""kubectl output pasted as text (`get -o json|yaml`, `describe pod`, `get events`) turned into the objects live mode
reads, so the same diagnosers (scheduling, containers, probes) run on it."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from kubellm.cluster.snapshot import ClusterSnapshot

_DESCRIBE_FIELD = re.compile(r"^(Name|Namespace|Status|Node|Reason|Message):\s*(.*)$")
_EVENT_ROW = re.compile(
    r"^\s*(?P<type>Normal|Warning)\s+(?P<reason>[A-Za-z]+)\s+(?P<age>\S+(?: \(x(?P<count>\d+) over \S+\))?)\s+"
    r"(?P<source>\S+(?:, \S+)?)\s+(?P<message>.*)$"
)
_GET_EVENT_ROW = re.compile(
    r"^\s*(?P<age>\S+)\s+(?P<type>Normal|Warning)\s+(?P<reason>[A-Za-z]+)\s+(?P<kind>[a-z]+)/(?P<name>\S+)\s+"
    r"(?P<message>.*)$"
)
_STATE = re.compile(r"^\s*(State|Last State):\s*(Waiting|Terminated|Running)")
_REASON = re.compile(r"^\s*Reason:\s*(\S+)")
_EXIT = re.compile(r"^\s*Exit Code:\s*(\d+)")
_CONDITION = re.compile(r"^\s*(PodScheduled|Ready|ContainersReady|Initialized)\s+(True|False)\s*$")


def _objects(text: str) -> list[dict[str, Any]] | None:
    stripped = text.strip()
    docs: list[Any]
    if stripped.startswith("{"):
        try:
            docs = [json.loads(stripped)]
        except ValueError:
            return None
    elif re.search(r"^apiVersion:", text, re.M) and re.search(r"^kind:", text, re.M):
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            return None
    else:
        return None
    objects: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, dict) and isinstance(doc.get("items"), list):
            objects += [i for i in doc["items"] if isinstance(i, dict)]
        elif isinstance(doc, dict) and doc.get("kind"):
            objects.append(doc)
    return objects or None


def _event(kind: str, name: str, namespace: str, row: re.Match[str]) -> dict[str, Any]:
    count = row.groupdict().get("count")
    return {
        "kind": "Event",
        "metadata": {"namespace": namespace},
        "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
        "type": row["type"],
        "reason": row["reason"],
        "message": row["message"].strip().rstrip("`"),
        "count": int(count) if count else 1,
    }


def _describe_pod(text: str) -> list[dict[str, Any]]:
    """A Pod (phase, PodScheduled condition, container states) and its events from `kubectl describe pod`."""
    fields: dict[str, str] = {}
    events: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    conditions: list[dict[str, Any]] = []
    state_key: str | None = None
    for line in text.splitlines():
        field = _DESCRIBE_FIELD.match(line.strip())
        if field and field.group(1) not in fields and not line.startswith((" ", "\t")):
            fields[field.group(1)] = field.group(2).strip()
        state = _STATE.match(line)
        if state:
            state_key = "state" if state.group(1) == "State" else "lastState"
            if not statuses or state_key in statuses[-1]:
                statuses.append({"name": "c"})
            statuses[-1][state_key] = {state.group(2).lower(): {}}
        reason = _REASON.match(line)
        if reason and state_key and statuses:
            next(iter(statuses[-1][state_key].values()))["reason"] = reason.group(1)
        exit_code = _EXIT.match(line)
        if exit_code and state_key and statuses:
            next(iter(statuses[-1][state_key].values()))["exitCode"] = int(exit_code.group(1))
        condition = _CONDITION.match(line)
        if condition:
            conditions.append({"type": condition.group(1), "status": condition.group(2)})
        row = _EVENT_ROW.match(line)
        if row:
            events.append(_event("Pod", fields.get("Name", "pod"), fields.get("Namespace", ""), row))
    if "Name" not in fields or not (events or statuses or conditions):
        return events
    for cond in conditions:
        if cond["type"] == "PodScheduled" and cond["status"] == "False":
            failed = [e for e in events if e["reason"] == "FailedScheduling"]
            cond["message"] = failed[-1]["message"] if failed else ""
    node = fields.get("Node", "")
    pod = {
        "kind": "Pod",
        "metadata": {"name": fields["Name"], "namespace": fields.get("Namespace", "")},
        "spec": {"nodeName": node.split("/")[0]} if node and node != "<none>" else {},
        "status": {
            "phase": fields.get("Status", "Unknown"),
            "conditions": conditions,
            "containerStatuses": statuses,
            **(
                {"reason": fields["Reason"], "message": fields.get("Message", "")}
                if "Reason" in fields
                else {}
            ),
        },
    }
    return [pod, *events]


def _event_table(text: str) -> list[dict[str, Any]]:
    """Events and stand-in Pending pods from `kubectl get events` rows."""
    objects: list[dict[str, Any]] = []
    for line in text.splitlines():
        row = _GET_EVENT_ROW.match(line)
        if row:
            kind = row["kind"].capitalize()
            objects.append(_event(kind, row["name"], "", row))
            if row["reason"] == "FailedScheduling":
                objects.append(
                    {
                        "kind": "Pod",
                        "metadata": {"name": row["name"], "namespace": ""},
                        "status": {"phase": "Pending"},
                    }
                )
    return objects


def snapshot_from_text(text: str) -> ClusterSnapshot | None:
    """A snapshot when the text is kubectl output (objects, describe, events); None for anything else (a log)."""
    objects = _objects(text)
    if objects is None:
        objects = _describe_pod(text) or _event_table(text)
    if not objects:
        return None
    snap = ClusterSnapshot()
    seen: set[tuple[str, str]] = set()
    for obj in objects:
        raw_meta = obj.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        key = (str(obj.get("kind")), str(meta.get("name")))
        if obj.get("kind") == "Pod" and key in seen:
            continue
        seen.add(key)
        snap.add_object(obj)
    return snap
