"""Invalid combinations fail before anything is rendered, naming the field and the fix."""

from __future__ import annotations

import pytest
from render_helpers import plan_of, render_spec, spec_of

from kubellm.errors import KubellmError, SpecError, UsageError
from kubellm.spec import LLMService


def _error(**sections: dict[str, object]) -> KubellmError:
    with pytest.raises(KubellmError) as info:
        render_spec(spec_of(**sections))
    return info.value


def test_tp_that_does_not_divide_the_heads_names_gpu_count() -> None:
    err = _error(gpu={"type": "H100-SXM-80GB", "count": 3})
    assert "gpu.count" in err.what and "32 attention heads" in err.what
    assert "1, 2, 4, 8" in err.fix


def test_mig_slice_too_small_names_the_profile_and_a_larger_choice() -> None:
    err = _error(
        model={"source": "hf://Qwen/Qwen2.5-32B-Instruct"},
        gpu={"type": "A100-80GB", "count": 1, "sharing": "mig", "mig_profile": "1g.10gb"},
    )
    assert isinstance(err, UsageError)
    assert "gpu.mig_profile 1g.10gb" in err.what and "too small" in err.what
    assert "larger MIG profile" in err.fix


def test_scale_to_zero_without_the_gateway_is_rejected_with_the_field() -> None:
    data = {
        "metadata": {"name": "svc"},
        "model": {"source": "hf://meta-llama/Llama-3.1-8B-Instruct"},
        "scaling": {"min_replicas": 0, "scale_to_zero": True, "metric": "gateway-pending"},
        "gateway": {"enabled": False},
    }
    from kubellm.spec import validate_as

    with pytest.raises(SpecError) as info:
        validate_as(LLMService, data, "spec.yaml")
    assert "scaling.scale_to_zero needs gateway.enabled" in info.value.what


def test_engine_that_cannot_serve_the_model_names_one_that_can() -> None:
    err = _error(
        model={"source": "hf://google/flan-t5-xxl"}, engine={"name": "vllm"}, gpu={"type": "A100-80GB"}
    )
    assert "cannot serve" in err.what
    assert "tgi" in err.fix


def test_sglang_cannot_serve_an_encoder_decoder_model() -> None:
    err = _error(
        model={"source": "hf://google/flan-t5-xxl"}, engine={"name": "sglang"}, gpu={"type": "A100-80GB"}
    )
    assert "engine sglang cannot serve" in err.what
    assert "tgi" in err.fix


def test_more_gpus_per_pod_than_a_node_has_asks_for_nodes() -> None:
    err = _error(
        model={"source": "hf://meta-llama/Llama-3.1-405B-Instruct", "name": "Llama-3.1-405B"},
        gpu={"type": "H100-SXM-80GB", "count": 16, "gpus_per_node": 8},
    )
    assert "gpu.count: 16 GPUs per pod" in err.what and "gpus_per_node" in err.what
    assert "gpu.nodes: 2" in err.fix


def test_multi_node_with_an_engine_that_cannot_span_nodes_names_vllm() -> None:
    err = _error(
        model={"source": "hf://meta-llama/Llama-3.1-70B-Instruct", "name": "Llama-3.1-70B"},
        engine={"name": "tgi"},
        gpu={"type": "L4", "count": 8, "nodes": 2, "gpus_per_node": 4},
        serving={"max_model_len": 4096},
    )
    assert "gpu.nodes 2" in err.what and "vllm" in err.fix


def test_time_slicing_with_default_memory_utilization_is_refused() -> None:
    err = _error(
        model={"source": "hf://meta-llama/Llama-3.2-1B-Instruct", "name": "Llama-3.2-1B"},
        gpu={"type": "L4", "sharing": "time-slicing"},
    )
    assert "gpu.memory_utilization 0.9" in err.what and "time-slicing" in err.what


def test_hpa_cannot_scale_to_zero() -> None:
    err = _error(
        scaling={"min_replicas": 0, "scale_to_zero": True, "metric": "gateway-pending", "autoscaler": "hpa"}
    )
    assert "hpa" in err.what and "keda" in err.fix


def test_trtllm_needs_the_shared_cache() -> None:
    err = _error(engine={"name": "trtllm"}, storage={"model_cache": "none"})
    assert "storage.model_cache" in err.fix or "storage.model_cache" in err.what


def test_httproute_needs_a_parent_gateway() -> None:
    err = _error(gateway={"host": "x.example.com", "ingress": "httproute"})
    assert "gateway.gateway_ref" in err.what


def test_ingress_host_needs_a_certificate_source() -> None:
    err = _error(gateway={"host": "x.example.com"})
    assert "gateway.tls_secret" in err.fix


def test_extra_args_may_not_override_planned_flags() -> None:
    err = _error(engine={"extra_args": ["--tensor-parallel-size=2"]})
    assert "--tensor-parallel-size" in err.what and "gpu.count" in err.fix


def test_kv_cache_scaling_on_an_engine_without_the_metric() -> None:
    err = _error(
        model={"source": "hf://tiiuae/falcon-40b", "name": "Falcon-40B"},
        engine={"name": "tgi"},
        gpu={"type": "A100-80GB", "count": 2},
        serving={"max_model_len": 2048},
        scaling={"metric": "kv-cache"},
    )
    assert "scaling.metric kv-cache" in err.what and "queue" in err.fix


def test_off_hours_cron_must_be_a_window() -> None:
    err = _error(scaling={"off_hours_cron": "0 8 * * 1-5"})
    assert "scaling.off_hours_cron" in err.what and " to " in err.fix


def test_unsupported_source_scheme_names_the_alternatives() -> None:
    err = _error(model={"source": "az://container/llama", "name": "Llama-3.1-8B"})
    assert "model.source" in err.what and "pvc://" in err.fix and "s3://" in err.fix


def test_a_plan_that_does_not_fit_is_refused_with_the_suggestion() -> None:
    spec = spec_of(model={"source": "hf://meta-llama/Llama-3.3-70B-Instruct"}, gpu={"type": "L4", "count": 1})
    plan = plan_of(spec)
    assert plan.fits is False
    from kubellm.render import render

    with pytest.raises(UsageError) as info:
        render(plan)
    assert "does not fit" in info.value.what and info.value.fix
