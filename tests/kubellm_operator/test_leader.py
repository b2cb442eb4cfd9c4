"""Leader election: the pure decision of who holds the Lease."""

from __future__ import annotations

import datetime as dt

from kubellm.operator.leader import LeaseTimes, next_lease, record_of, released

NOW = dt.datetime(2026, 12, 8, 1, 0, 0, tzinfo=dt.UTC)
TIMES = LeaseTimes(duration_s=15, renew_s=5, retry_s=2)


def lease(holder: str, transitions: int = 0, renewed: str = "2026-12-08T00:59:59.000000Z") -> dict:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "kubellm-operator", "namespace": "ops", "resourceVersion": "7"},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-12-08T00:50:00.000000Z",
            "renewTime": renewed,
            "leaseTransitions": transitions,
        },
    }


def decide(current: dict | None, me: str, unchanged_for_s: float) -> dict | None:
    return next_lease(current, me, NOW, unchanged_for_s, TIMES, "kubellm-operator", "ops")


def test_nobody_holds_it_so_the_first_replica_creates_it() -> None:
    created = decide(None, "a", 0)
    assert created is not None
    assert created["spec"]["holderIdentity"] == "a" and created["spec"]["leaseTransitions"] == 0
    assert (
        created["spec"]["renewTime"] == "2026-12-08T01:00:00.000000Z"
        and "resourceVersion" not in created["metadata"]
    )


def test_the_holder_renews_keeping_its_acquire_time_and_the_resource_version() -> None:
    renewed = decide(lease("a"), "a", 100)
    assert renewed is not None
    assert renewed["spec"]["acquireTime"] == "2026-12-08T00:50:00.000000Z"
    assert renewed["spec"]["renewTime"] == "2026-12-08T01:00:00.000000Z"
    assert renewed["metadata"]["resourceVersion"] == "7"  # the write fails with 409 if someone wrote first


def test_another_holders_lease_is_respected_until_it_went_unrenewed_for_its_duration() -> None:
    assert decide(lease("a"), "b", 14.9) is None
    taken = decide(lease("a", transitions=2), "b", 15.0)
    assert taken is not None
    assert taken["spec"]["holderIdentity"] == "b" and taken["spec"]["leaseTransitions"] == 3
    assert taken["spec"]["acquireTime"] == taken["spec"]["renewTime"]


def test_a_released_lease_is_taken_at_once_without_counting_a_transition() -> None:
    free = released(lease("a", transitions=1), "a")
    assert free is not None and record_of(free)[0] == ""
    taken = decide(free, "b", 0)
    assert taken is not None and taken["spec"]["holderIdentity"] == "b"
    assert taken["spec"]["leaseTransitions"] == 1


def test_only_the_holder_can_release() -> None:
    assert released(lease("a"), "b") is None
