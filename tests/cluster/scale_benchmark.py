"""How long the doctor takes on a big cluster snapshot (a measurement, not a test; prints a table).

Run: .venv/bin/python -m tests.cluster.scale_benchmark   (from the repository root)
"""

from __future__ import annotations

import time

from kubellm.cluster import ClusterSnapshot, diagnose

from .builders import container, event, node, pod, status_crashloop, status_running, unschedulable


def snapshot(nodes: int, pods: int) -> ClusterSnapshot:
    """1 pod in 10 Pending on GPUs, 1 in 10 crash-looping with a 400-line log, 3 events per pod."""
    all_pods, events, logs = [], [], {}
    msg = f"0/{nodes} nodes are available: {nodes} Insufficient nvidia.com/gpu."
    for i in range(pods):
        name = f"svc{i % 50}-7c9f8d6b5-{i:05d}"
        if i % 10 == 0:
            all_pods.append(
                pod(name, phase="Pending", containers=[container(gpus=2)], conditions=unschedulable(msg))
            )
            events.append(event(name, "FailedScheduling", msg, count=12))
        elif i % 10 == 1:
            all_pods.append(pod(name, statuses=[status_crashloop()]))
            logs[f"llm/{name}/vllm"] = "INFO 11-27 21:15:02 [core.py:644] starting\n" * 400 + (
                "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.96 GiB.\n"
            )
        else:
            all_pods.append(pod(name, statuses=[status_running()]))
        events += [event(name, "Pulled", "Container image already present on machine", type_="Normal")] * 3
    return ClusterSnapshot(
        nodes=[node(f"gpu-{i}") for i in range(nodes)], pods=all_pods, events=events, logs=logs
    )


def main() -> None:
    print(f"{'nodes':>6} {'pods':>6} {'events':>7} {'logs':>5} {'findings':>8} {'diagnose ms':>12}")
    for nodes, pods in ((10, 100), (100, 1000), (500, 5000)):
        snap = snapshot(nodes, pods)
        start = time.perf_counter()
        findings = diagnose(snap)
        elapsed_ms = (time.perf_counter() - start) * 1000
        print(
            f"{nodes:>6} {pods:>6} {len(snap.events):>7} {len(snap.logs):>5} {len(findings):>8} {elapsed_ms:>12.0f}"
        )


if __name__ == "__main__":
    main()
