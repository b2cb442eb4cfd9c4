"""Engine-argument parsers: flag spellings, shell-wrapped commands, $(VAR) expansion, env-configured engines."""

from __future__ import annotations

from kubellm.lint.engines import detect, engine_from_image
from kubellm.lint.engines.argv import command_lines, expand_k8s, parse_flags


def test_flag_equals_and_flag_space_forms_are_the_same() -> None:
    a = detect(
        "vllm/vllm-openai:v0.10.1.1",
        [],
        ["--model=m/x", "--tensor-parallel-size=4", "--max-model-len=8192"],
        {},
    )
    b = detect(
        "vllm/vllm-openai:v0.10.1.1",
        [],
        ["--model", "m/x", "--tensor-parallel-size", "4", "--max-model-len", "8192"],
        {},
    )
    assert a is not None and b is not None
    assert (
        (a.model, a.tensor_parallel, a.max_model_len)
        == (b.model, b.tensor_parallel, b.max_model_len)
        == ("m/x", 4, 8192)
    )


def test_underscore_spelling_and_short_aliases() -> None:
    cfg = detect(
        "x",
        ["vllm", "serve", "org/m"],
        ["-tp", "2", "--pipeline_parallel_size", "2", "--gpu_memory_utilization", "0.8"],
        {},
    )
    assert cfg is not None
    assert (
        cfg.engine,
        cfg.model,
        cfg.tensor_parallel,
        cfg.pipeline_parallel,
        cfg.gpu_memory_utilization,
    ) == ("vllm", "org/m", 2, 2, 0.8)


def test_boolean_flag_does_not_swallow_the_model_positional() -> None:
    cfg = detect("x", ["vllm", "serve", "--enforce-eager", "/models/llama"], [], {})
    assert cfg is not None and cfg.model == "/models/llama" and cfg.args.has("enforce-eager")


def test_shell_wrapped_command_is_parsed() -> None:
    script = "pip list; exec vllm serve mistralai/Mistral-7B-Instruct-v0.3 --max_num_batched_tokens 1024 && echo done"
    cfg = detect("vllm/vllm-openai:latest", ["/bin/sh", "-c"], [script], {})
    assert cfg is not None and cfg.model == "mistralai/Mistral-7B-Instruct-v0.3"
    assert cfg.args.get("max-num-batched-tokens") == "1024"


def test_bash_ec_with_continuation_lines() -> None:
    lines = command_lines(
        ["bash", "-ec"],
        ["python3 -m vllm.entrypoints.openai.api_server \\\n  --model a/b \\\n  --tensor-parallel-size 8"],
        {},
    )
    assert [
        "python3",
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        "a/b",
        "--tensor-parallel-size",
        "8",
    ] in lines


def test_kubernetes_var_expansion_and_escape() -> None:
    assert (
        expand_k8s("--model=$(MODEL_ID) $$(KEEP) $(UNKNOWN)", {"MODEL_ID": "g/gemma"})
        == "--model=g/gemma $(KEEP) $(UNKNOWN)"
    )
    cfg = detect(
        "x",
        ["python3", "-m", "vllm.entrypoints.openai.api_server"],
        ["--model=$(MODEL_ID)"],
        {"MODEL_ID": "google/gemma-3-27b-it"},
    )
    assert cfg is not None and cfg.model == "google/gemma-3-27b-it"


def test_shell_var_expansion_inside_scripts() -> None:
    cfg = detect(
        "kserve/huggingfaceserver:v0.15",
        ["bash", "-c"],
        ["python3 -m huggingfaceserver --tensor-parallel-size=${TP}"],
        {"TP": "4"},
    )
    assert cfg is not None and cfg.engine == "kserve-hf" and cfg.tensor_parallel == 4


def test_tgi_reads_environment_and_flags_win() -> None:
    env = {
        "MODEL_ID": "tiiuae/falcon-40b-instruct",
        "NUM_SHARD": "2",
        "MAX_TOTAL_TOKENS": "4096",
        "QUANTIZE": "bitsandbytes-nf4",
    }
    cfg = detect("ghcr.io/huggingface/text-generation-inference:2.2.0", [], [], env)
    assert cfg is not None and (
        cfg.engine,
        cfg.model,
        cfg.tensor_parallel,
        cfg.max_model_len,
        cfg.quantization,
    ) == ("tgi", "tiiuae/falcon-40b-instruct", 2, 4096, "bitsandbytes-nf4")
    flagged = detect("ghcr.io/huggingface/text-generation-inference:2.2.0", [], ["--num-shard", "4"], env)
    assert flagged is not None and flagged.tensor_parallel == 4


def test_tgi_launcher_command() -> None:
    cfg = detect("custom:1", ["text-generation-launcher"], ["--model-id", "a/b", "--num-shard", "2"], {})
    assert cfg is not None and (cfg.engine, cfg.model, cfg.tensor_parallel) == ("tgi", "a/b", 2)


def test_sglang_launch_server() -> None:
    cfg = detect(
        "lmsysorg/sglang:v0.4.6",
        ["python3", "-m", "sglang.launch_server"],
        [
            "--model-path",
            "Qwen/Qwen3-8B",
            "--tp",
            "2",
            "--context-length",
            "32768",
            "--mem-fraction-static",
            "0.85",
        ],
        {},
    )
    assert cfg is not None and (
        cfg.engine,
        cfg.model,
        cfg.tensor_parallel,
        cfg.max_model_len,
        cfg.gpu_memory_utilization,
    ) == ("sglang", "Qwen/Qwen3-8B", 2, 32768, 0.85)


def test_triton_tutorial_server_and_tritonserver() -> None:
    cfg = detect(
        "nvcr.io/nvidia/tritonserver:24.07-trtllm-python-py3",
        ["python3", "./server.py", "exec"],
        ["--engine=trtllm", "--tp=2"],
        {},
    )
    assert cfg is not None and (cfg.engine, cfg.tensor_parallel, cfg.python_backend) == ("triton", 2, True)
    plain = detect(
        "nvcr.io/nvidia/tritonserver:24.07-py3", ["tritonserver"], ["--model-repository=/models"], {}
    )
    assert plain is not None and plain.engine == "triton" and plain.model == "/models"


def test_trtllm_serve() -> None:
    cfg = detect(
        "nvcr.io/nvidia/tensorrt-llm/release:1.0.0",
        ["trtllm-serve", "meta-llama/Llama-3.1-8B"],
        ["--tp_size", "2"],
        {},
    )
    assert cfg is not None and (cfg.engine, cfg.model, cfg.tensor_parallel) == (
        "trtllm",
        "meta-llama/Llama-3.1-8B",
        2,
    )


def test_llamacpp_server() -> None:
    cfg = detect(
        "ghcr.io/ggml-org/llama.cpp:server-cuda",
        ["/app/llama-server"],
        ["-m", "/models/q.gguf", "-c", "8192", "-ngl", "99", "--api-key", "k"],
        {},
    )
    assert cfg is not None and (cfg.engine, cfg.model, cfg.max_model_len, cfg.api_key) == (
        "llamacpp",
        "/models/q.gguf",
        8192,
        True,
    )


def test_ollama_environment() -> None:
    cfg = detect(
        "ollama/ollama:0.6.0",
        [],
        [],
        {"OLLAMA_CONTEXT_LENGTH": "12288", "OLLAMA_MODELS": "/models", "OLLAMA_NUM_PARALLEL": "4"},
    )
    assert cfg is not None and (cfg.engine, cfg.max_model_len, cfg.download_dir, cfg.max_num_seqs) == (
        "ollama",
        12288,
        "/models",
        4,
    )


def test_non_engine_containers_are_not_engines() -> None:
    assert detect("busybox:1.36", ["sh", "-c"], ["while true; do vectorAdd; sleep 30; done"], {}) is None
    assert detect("nvcr.io/nvidia/cloud-native/gpu-operator-validator:v1.10.1", [], [], {}) is None


def test_image_hint_ignores_tags_and_registries() -> None:
    assert engine_from_image("us-docker.pkg.dev/x/pytorch-vllm-serve:2025") == "vllm"
    assert engine_from_image("registry:5000/ollama/ollama@sha256:abc") == "ollama"
    assert engine_from_image("myrepo/app:vllm-compatible") is None


def test_image_hint_reads_the_image_name_not_its_organisation() -> None:
    """A project named after an engine ships other programs: the semantic router's extproc is no vLLM."""
    assert engine_from_image("ghcr.io/vllm-project/semantic-router/extproc:latest") is None
    assert engine_from_image("quay.io/vllm-semantic-router-system/llm-katan:latest") is None
    assert engine_from_image("ghcr.io/vllm-project/vllm/vllm-openai:v0.10.1") == "vllm"
    assert engine_from_image("ghcr.io/ggml-org/llama.cpp:server-cuda") == "llamacpp"


def test_parse_flags_keeps_negative_numbers_as_values() -> None:
    parsed = parse_flags(["--seed", "-1", "--x"])
    assert parsed.get("seed") == "-1" and parsed.flags["x"] == [""]


def test_api_key_from_flag_or_env() -> None:
    by_flag = detect("vllm/vllm-openai:v1", [], ["--api-key", "$(KEY)"], {})
    by_env = detect("vllm/vllm-openai:v1", [], [], {"VLLM_API_KEY": "x"})
    assert by_flag is not None and by_flag.api_key and by_env is not None and by_env.api_key


def test_what_runs_decides_not_the_image_name() -> None:
    """LMCache's cache server ships in lmcache/vllm-openai but loads no model; a vLLM image running a
    downloader is not an engine either, while the same image without a command is."""
    assert (
        detect("lmcache/vllm-openai:v0.3.3", ["lmcache_experimental_server"], ["0.0.0.0", "8100"], {}) is None
    )
    assert detect("vllm/vllm-openai:v0.10.1.1", ["python3", "download.py"], [], {}) is None
    plain = detect("lmcache/vllm-openai:v0.3.3", [], ["--model", "Qwen/Qwen3-8B"], {})
    assert plain is not None and plain.engine == "vllm"


def test_dynamo_workers_take_their_engines_arguments() -> None:
    vllm = detect(
        "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.8.0",
        ["python3", "-m", "dynamo.vllm"],
        ["--model", "Qwen/Qwen3-0.6B", "--tensor-parallel-size", "2"],
        {},
    )
    sglang = detect(
        "x", ["python3", "-m", "dynamo.sglang"], ["--model-path", "Qwen/Qwen3-0.6B", "--tp", "4"], {}
    )
    trtllm = detect(
        "x",
        ["python3", "-m", "dynamo.trtllm"],
        ["--model-path", "Qwen/Qwen3-0.6B", "--extra-engine-args", "/workspace/decode.yaml"],
        {},
    )
    frontend = detect(
        "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.8.0", ["python3", "-m", "dynamo.frontend"], [], {}
    )
    assert vllm is not None and (vllm.engine, vllm.tensor_parallel) == ("vllm", 2)
    assert sglang is not None and (sglang.engine, sglang.tensor_parallel) == ("sglang", 4)
    assert trtllm is not None and (trtllm.engine, trtllm.model, trtllm.extra_config) == (
        "trtllm",
        "Qwen/Qwen3-0.6B",
        "/workspace/decode.yaml",
    )
    assert frontend is None


def test_lmdeploy_api_server() -> None:
    cfg = detect(
        "openmmlab/lmdeploy:v0.9.2",
        ["lmdeploy", "serve", "api_server", "internlm/internlm3-8b-instruct"],
        ["--tp", "2", "--session-len", "16384", "--api-keys", "$(KEY)"],
        {},
    )
    assert cfg is not None and (
        cfg.engine,
        cfg.model,
        cfg.tensor_parallel,
        cfg.max_model_len,
        cfg.api_key,
    ) == (
        "lmdeploy",
        "internlm/internlm3-8b-instruct",
        2,
        16384,
        True,
    )


def test_nim_image_names_the_model_and_env_sets_it_up() -> None:
    cfg = detect(
        "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3",
        [],
        [],
        {"NIM_MAX_MODEL_LEN": "8192", "NIM_TENSOR_PARALLEL_SIZE": "2"},
    )
    assert cfg is not None and (cfg.engine, cfg.model, cfg.max_model_len, cfg.tensor_parallel) == (
        "nim",
        "meta/llama-3.1-8b-instruct",
        8192,
        2,
    )
    assert cfg.download_dir == "/opt/nim/.cache"


def test_sglang_and_vllm_read_the_nodes_they_span() -> None:
    sgl = detect(
        "x",
        ["python3", "-m", "sglang.launch_server"],
        ["--model-path", "m/x", "--tp", "16", "--nnodes", "2"],
        {},
    )
    assert sgl is not None and (sgl.nodes, sgl.gpus_per_node) == (2, 8)
    one = detect("x", ["vllm", "serve", "m/x"], ["-tp", "8"], {})
    assert one is not None and one.gpus_per_node is None
