"""LocalStack decisions made before any process starts: port, engine, plan, replica count."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kubellm.errors import UsageError
from kubellm.local.engines import LocalEngine
from kubellm.local.environment import Environment
from kubellm.local.ports import free_port
from kubellm.local.runner import LocalStack, UpOptions
from kubellm.spec import LLMService

LLAMA = Environment(llama_cpp_installed=True)
GPU_VLLM = Environment(vllm_installed=True, gpus=("NVIDIA L4",), gpu_note="nvidia-smi lists 1 GPU(s)")


def service(source: str = "hf://Qwen/Qwen3-0.6B", **sections: object) -> LLMService:
    return LLMService.model_validate({"metadata": {"name": "t"}, "model": {"source": source}, **sections})


def stack(spec: LLMService, env: Environment, tmp_path: Path, **options: object) -> LocalStack:
    opts = UpOptions(port=free_port(), run_dir=tmp_path / "run", spec_dir=tmp_path, **options)  # type: ignore[arg-type]
    return LocalStack(spec, opts, env=env)


def test_busy_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        local = LocalStack(
            service(), UpOptions(port=sock.getsockname()[1], run_dir=tmp_path / "run"), env=Environment()
        )
        with pytest.raises(UsageError, match="already in use"):
            local.decide()
    assert not (tmp_path / "run").exists()


def test_uncatalogued_gguf_runs_on_llama_cpp_with_engine_defaults(tmp_path: Path) -> None:
    local = stack(service("random.gguf"), LLAMA, tmp_path)
    assert local.decide().engine == LocalEngine.LLAMACPP
    assert local.plan is None
    assert local.plan_note.startswith("not planned (")


def test_simulator_needs_a_model_it_can_plan(tmp_path: Path) -> None:
    local = stack(service("random.gguf"), Environment(), tmp_path)
    with pytest.raises(UsageError, match=r"model\.name"):
        local.decide()


def test_gguf_with_a_catalog_name_is_planned_for_the_simulator(tmp_path: Path) -> None:
    local = stack(
        service("random.gguf", model={"source": "random.gguf", "name": "Qwen3-0.6B"}), Environment(), tmp_path
    )
    assert local.decide().engine == LocalEngine.SIM
    assert local.plan is not None and "Qwen3-0.6B" in local.plan_note


def test_vllm_replicas_are_capped_by_the_gpus_present(tmp_path: Path) -> None:
    local = stack(service(scaling={"min_replicas": 3, "max_replicas": 3}), GPU_VLLM, tmp_path)
    local.decide()
    assert local.replica_count(LocalEngine.VLLM, env_gpus=1) == 1
    with pytest.raises(UsageError, match="GPUs per replica"):
        local.replica_count(LocalEngine.VLLM, env_gpus=0)


def test_replicas_flag_overrides_the_spec(tmp_path: Path) -> None:
    local = stack(
        service(scaling={"min_replicas": 2, "max_replicas": 4}), Environment(), tmp_path, replicas=3
    )
    local.decide()
    assert local.replica_count(LocalEngine.SIM, env_gpus=0) == 3


def test_missing_gguf_file_is_a_usage_error_and_starts_nothing(tmp_path: Path) -> None:
    local = stack(service("absent.gguf"), LLAMA, tmp_path)
    with pytest.raises(UsageError, match=r"absent\.gguf is not a file"):
        local.start()
    assert local.supervisor.children == []


def test_spec_asking_for_api_keys_gets_a_key_made_for_the_run(tmp_path: Path) -> None:
    local = stack(service(security={"api_key_secret": "llm-keys"}), Environment(), tmp_path)
    local.run_dir.mkdir(parents=True)
    path, key = local._api_key()
    assert key is not None and key.startswith("sk-local-")
    assert path is not None and path.read_text() == f"local:{key}\n"
    assert path.stat().st_mode & 0o077 == 0  # readable by the owner only


def test_an_engine_that_never_answers_stops_the_start_with_its_log_and_no_leftovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubellm.local import commands
    from kubellm.local.health import StartError
    from kubellm.local.processes import ProcessSpec

    def silent_engine(spec: LLMService, spec_file: Path, index: int, port: int) -> ProcessSpec:
        return ProcessSpec(f"engine-{index}", ["bash", "-c", "echo loading weights; exec sleep 30"])

    monkeypatch.setattr(commands, "sim_process", silent_engine)
    local = stack(
        service(scaling={"min_replicas": 2, "max_replicas": 2}), Environment(), tmp_path, timeout_s=1.0
    )
    with pytest.raises(StartError, match="did not answer") as caught:
        local.start()
    assert "loading weights" in caught.value.what
    assert len(local.supervisor.children) == 2
    assert all(child.exited() is not None for child in local.supervisor.children)


def test_vllm_is_planned_for_the_gpu_this_machine_has(tmp_path: Path) -> None:
    env = Environment(
        vllm_installed=True, gpus=("NVIDIA H100 80GB HBM3",), gpu_note="nvidia-smi lists 1 GPU(s)"
    )
    local = stack(service(gpu={"type": "L4"}), env, tmp_path)
    assert local.decide().engine == LocalEngine.VLLM
    assert local.plan is not None and local.plan.gpu == "H100-SXM-80GB"
    assert "planned for this machine's H100-SXM-80GB; the spec names L4" in local.plan_note


def test_the_simulator_keeps_the_specs_gpu(tmp_path: Path) -> None:
    local = stack(service(gpu={"type": "L4"}), Environment(gpus=("NVIDIA H100 80GB HBM3",)), tmp_path)
    local.decide()
    assert local.plan is not None and local.plan.gpu == "L4"
