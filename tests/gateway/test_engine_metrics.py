"""Engine load from vLLM, SGLang and TGI /metrics text."""

from __future__ import annotations

from kubellm.gateway.engine_metrics import EngineLoad, parse_engine_load

VLLM = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 12.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.42
vllm:prompt_tokens_total{engine="0",model_name="x"} 123456.0
"""

SGLANG = """sglang:num_running_reqs{model_name="qwen"} 5.0
sglang:num_queue_reqs{model_name="qwen"} 7.0
sglang:token_usage{model_name="qwen"} 0.9
"""

TGI = """tgi_queue_size 4
tgi_batch_current_size 16
"""


def test_vllm_names() -> None:
    assert parse_engine_load(VLLM) == EngineLoad(waiting=3.0, running=12.0, kv_usage=0.42)


def test_sglang_names() -> None:
    assert parse_engine_load(SGLANG) == EngineLoad(waiting=7.0, running=5.0, kv_usage=0.9)


def test_tgi_names_without_labels() -> None:
    assert parse_engine_load(TGI) == EngineLoad(waiting=4.0, running=16.0, kv_usage=0.0)


def test_older_vllm_kv_name_and_garbage_lines() -> None:
    text = 'vllm:gpu_cache_usage_perc 0.5\nvllm:num_requests_waiting{a="b"} NaN\nnot a metric\nvllm:num_requests_running x\n'
    assert parse_engine_load(text) == EngineLoad(waiting=0.0, running=0.0, kv_usage=0.5)
