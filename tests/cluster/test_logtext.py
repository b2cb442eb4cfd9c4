"""Pasted text as users paste it: frames stripped, wrapped lines rejoined, root cause first, kubectl output read."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubellm.cluster.doctor import diagnose_text
from kubellm.cluster.logdiagnosis import match_log, root_cause
from kubellm.cluster.logtext import log_lines, strip_frame


def test_frames_are_stripped() -> None:
    assert strip_frame("(EngineCore_DP0 pid=6880) ValueError: boom") == "ValueError: boom"
    assert strip_frame("(APIServer pid=1) ERROR 05-01 14:39:06 [async_llm.py:699] x") == (
        "ERROR 05-01 14:39:06 [async_llm.py:699] x"
    )
    assert strip_frame("[rank0]: RuntimeError: CUDA error") == "RuntimeError: CUDA error"
    assert (
        strip_frame("vllm-1  | ERROR 11-18 18:07:28 engine.py:366] x")
        == "ERROR 11-18 18:07:28 engine.py:366] x"
    )
    assert strip_frame(
        "2023-10-19T11:11:54.957587844+08:00 stderr F 2023/10/19 03:11:54 Loading NVML"
    ).endswith("Loading NVML")
    assert strip_frame("Dec 24 23:48:35 host ollama[3974]: error starting llama runner") == (
        "error starting llama runner"
    )
    assert (
        strip_frame("[ 1843.308145] NVRM: The NVIDIA GPU 0000:b3:00.0") == "NVRM: The NVIDIA GPU 0000:b3:00.0"
    )


def test_a_line_cut_at_the_terminal_width_is_rejoined() -> None:
    text = (
        "(EngineCore pid=316) ValueError: To serve at least one request with the model's max seq len (100000), (4.26 GiB KV cach\n"
        "e is needed, which is larger than the available KV cache memory (4.25 GiB).\n"
    )
    lines = log_lines(text)
    assert len(lines) == 1 and "KV cache is needed" in lines[0].message


def test_a_framed_line_is_never_glued_to_the_previous_one() -> None:
    text = "x" * 100 + "\nsvc-1  | 2023-12-22T00:21:35Z ERROR Server error: CUDA out of memory.\n"
    assert len(log_lines(text)) == 2


def test_info_lines_never_fire() -> None:
    log = "INFO 01-01 00:00:00 worker.py:1] Retrying after CUDA out of memory in the profiler is normal\n"
    assert match_log(log, "log/x") == []


def test_root_cause_is_the_last_exception_not_the_wrapper() -> None:
    log = (
        "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0.\n"
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}\n"
    )
    cause = root_cause(log_lines(log))
    assert cause is not None and cause.message.startswith("ValueError: Bfloat16")
    assert [f.id for f in match_log(log, "log/x")] == ["SIG012"]


def test_an_unexplained_failure_is_quoted_never_no_problems() -> None:
    log = 'INFO starting\nTraceback (most recent call last):\n  File "x.py", line 1\nZeroDivisionError: division by zero\n'
    (finding,) = match_log(log, "log/x")
    assert finding.id == "SIG999" and finding.category == "unknown" and finding.severity == "error"
    assert finding.evidence == "ZeroDivisionError: division by zero"


def test_advisory_lines_are_not_failures() -> None:
    log = "[2026-06-08 07:21:05 TP1] Using MoE kernel config. Performance might be sub-optimal! Config file not found\n"
    assert match_log(log, "log/x") == []


def test_kv_cache_fix_carries_the_engine_numbers() -> None:
    log = (
        "ValueError: To serve at least one request with the models's max seq len (131072), (16.00 GiB KV cache is "
        "needed, which is larger than the available KV cache memory (0.71 GiB). Based on the available memory, the "
        "estimated maximum model length is 5632.\n"
    )
    (finding,) = match_log(log, "log/x")
    assert finding.category == "kv-cache"
    assert (
        "5,632" in finding.fix and "serving.max_model_len: 4096" in finding.fix and "131,072" in finding.fix
    )


def test_stats_lines_with_a_queue_become_a_performance_finding() -> None:
    line = (
        "(APIServer pid=1) INFO 05-19 10:13:11 [loggers.py:271] Engine 000: Avg prompt throughput: 0.0 tokens/s, Avg "
        "generation throughput: 1055.3 tokens/s, Running: 18 reqs, Waiting: {w} reqs, GPU KV cache usage: {kv}%, "
        "Prefix cache hit rate: 0.0%\n"
    )
    busy = "".join(line.format(w=w, kv=kv) for w, kv in ((43, 95.9), (42, 98.4), (0, 60.0)))
    (finding,) = match_log(busy, "log/x")
    assert finding.id == "DOC044" and finding.category == "performance" and "98%" in finding.evidence
    assert finding.spec_field == "scaling.max_replicas"
    idle = "".join(line.format(w=0, kv=kv) for kv in (93.9, 94.3, 95.0))
    assert match_log(idle, "log/x") == []


DESCRIBE = """Name:         llama-0
Namespace:    llm
Node:         <none>
Status:       Pending
Conditions:
  Type           Status
  PodScheduled   False
Events:
  Type     Reason            Age                From               Message
  ----     ------            ----               ----               -------
  Warning  FailedScheduling  40s (x2 over 40s)  default-scheduler  0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) were unschedulable.
"""


def test_describe_pod_goes_to_the_scheduling_diagnosers() -> None:
    text = DESCRIBE
    findings = diagnose_text(text)
    assert [f.id for f in findings] == ["DOC001"]
    assert findings[0].object == "Pod/llm/llama-0" and "FailedScheduling ×2" in findings[0].evidence


def test_kubectl_get_pod_yaml_is_read_as_objects() -> None:
    text = """apiVersion: v1
kind: Pod
metadata: {name: llama-0, namespace: llm}
spec:
  containers: [{name: vllm, image: vllm/vllm-openai:v0.10.0}]
status:
  phase: Running
  containerStatuses:
  - name: vllm
    restartCount: 3
    lastState: {terminated: {reason: OOMKilled, exitCode: 137}}
    state: {waiting: {reason: CrashLoopBackOff}}
"""
    assert "DOC010" in {f.id for f in diagnose_text(text)}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash(data: bytes) -> None:
    diagnose_text(data.decode("utf-8", errors="replace"))


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=400))
def test_truncations_never_crash(cut: int) -> None:
    diagnose_text(DESCRIBE[:cut])


def test_the_pod_condition_wins_over_a_stale_event() -> None:
    """The scheduler keys FailedScheduling events without the message: a new reason bumps the old event's count."""
    from kubellm.cluster.doctor import diagnose
    from kubellm.cluster.snapshot import ClusterSnapshot

    pod = {
        "kind": "Pod",
        "metadata": {"name": "llama-0", "namespace": "llm"},
        "spec": {"containers": [{"name": "vllm", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated "
                    "taint {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: 1 No "
                    "preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
                }
            ],
        },
    }
    stale = {
        "kind": "Event",
        "metadata": {"namespace": "llm"},
        "involvedObject": {"kind": "Pod", "name": "llama-0", "namespace": "llm"},
        "reason": "FailedScheduling",
        "type": "Warning",
        "message": "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes "
        "are available: 3 Preemption is not helpful for scheduling.",
        "series": {"count": 7},
    }
    node = {"kind": "Node", "metadata": {"name": "gpu-1"}, "status": {"allocatable": {"nvidia.com/gpu": "1"}}}
    snap = ClusterSnapshot(nodes=[node], pods=[pod], events=[stale])
    ids = {f.id for f in diagnose(snap)}
    assert "DOC001" in ids and "DOC006" not in ids
    (finding,) = [f for f in diagnose(snap) if f.id == "DOC001"]
    assert "×7" in finding.evidence and "Insufficient nvidia.com/gpu" in finding.evidence


def test_objects_written_by_the_real_scheduler() -> None:
    """Recorded from kube-scheduler v1.36 (no kubelet): Event count/series are null on the first attempt, and the
    condition message carries the node counts and the preemption tail."""
    from pathlib import Path

    from kubellm.cluster.doctor import diagnose
    from kubellm.cluster.snapshot import load_dump

    snap = load_dump(Path(__file__).parent / "data" / "dump-real-scheduler")
    (finding,) = [f for f in diagnose(snap) if f.category == "scheduling" and f.object.startswith("Pod/")]
    assert finding.id == "DOC002" and "16 nvidia.com/gpu" in finding.cause
