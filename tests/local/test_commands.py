"""Command lines and the gateway config `kubellm up` builds from a spec and its plan."""

from __future__ import annotations

from pathlib import Path

from kubellm.local import commands
from kubellm.local.engines import LocalEngine
from kubellm.planning import plan
from kubellm.spec import LLMService


def service(**sections: object) -> LLMService:
    data: dict[str, object] = {"metadata": {"name": "t"}, "model": {"source": "hf://Qwen/Qwen3-0.6B"}}
    data.update(sections)
    return LLMService.model_validate(data)


def test_served_name_prefers_the_spec_then_the_gguf_stem_then_the_source_id() -> None:
    assert commands.served_name(service(model={"source": "hf://Qwen/Qwen3-0.6B", "served_name": "q"})) == "q"
    assert commands.served_name(service(model={"source": "/models/tiny-llama.gguf"})) == "tiny-llama"
    assert commands.served_name(service()) == "Qwen/Qwen3-0.6B"


def test_relative_gguf_paths_are_taken_from_the_spec_folder(tmp_path: Path) -> None:
    spec = service(model={"source": "models/tiny.gguf"})
    assert commands.gguf_path(spec, tmp_path) == tmp_path / "models" / "tiny.gguf"


def test_gateway_config_carries_the_specs_routing_limits_and_keys(tmp_path: Path) -> None:
    spec = service(
        gateway={
            "routing": "prefix-affinity",
            "requests_per_minute": 60,
            "tokens_per_minute": 9000,
            "max_tokens_cap": 512,
        }
    )
    keys = tmp_path / "keys"
    config = commands.gateway_config(
        spec, ["http://127.0.0.1:9001", "http://127.0.0.1:9002"], 8123, LocalEngine.SIM, keys
    )
    assert (config.listen.host, config.listen.port) == ("127.0.0.1", 8123)
    (pool,) = config.pools
    assert pool.name == "Qwen/Qwen3-0.6B"
    assert pool.routing == "prefix-affinity"
    assert pool.backends.kind == "static" and pool.backends.urls == [
        "http://127.0.0.1:9001",
        "http://127.0.0.1:9002",
    ]
    assert config.admission.requests_per_minute == 60
    assert config.admission.tokens_per_minute == 9000
    assert config.admission.max_tokens_cap == 512
    assert config.admission.api_keys_file == str(keys)


def test_gateway_probes_llama_cpp_where_it_answers() -> None:
    config = commands.gateway_config(service(), ["http://127.0.0.1:9001"], 8000, LocalEngine.LLAMACPP, None)
    assert config.health_checks.path == "/v1/models"
    assert config.admission.api_keys_file is None


def test_vllm_replica_gets_the_planned_arguments_and_its_own_gpus() -> None:
    spec = service(
        model={"source": "hf://Qwen/Qwen3-0.6B", "revision": "abc123"}, engine={"extra_args": ["--seed", "1"]}
    )
    planned = plan(spec)
    process = commands.vllm_process(spec, 1, 9100, planned, [2, 3])
    assert Path(process.argv[0]).name == "vllm"
    assert process.argv[1:3] == ["serve", "Qwen/Qwen3-0.6B"]
    joined = " ".join(process.argv)
    assert "--port 9100" in joined and "--host 127.0.0.1" in joined and "--revision abc123" in joined
    assert " ".join(planned.engine_args) in joined
    assert process.argv[-2:] == ["--seed", "1"]
    assert process.env["CUDA_VISIBLE_DEVICES"] == "2,3"


def test_llama_cpp_context_is_capped_for_a_local_run() -> None:
    spec = service(model={"source": "m.gguf"}, serving={"max_model_len": 131072})
    process = commands.llamacpp_process(spec, 0, 9200, Path("/m.gguf"), None)
    argv = process.argv
    assert argv[argv.index("--n_ctx") + 1] == str(commands.LLAMA_CPP_MAX_CTX)
    assert argv[argv.index("--model_alias") + 1] == "m"


def test_every_process_runs_with_this_interpreter() -> None:
    import sys

    assert commands.sim_process(service(), Path("s.yaml"), 0, 9300).argv[0] == sys.executable
    assert commands.gateway_process(Path("g.yaml")).argv[0] == sys.executable
