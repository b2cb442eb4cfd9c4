"""Properties over many specs: render either refuses with a KubellmError (field + fix) or produces
objects that validate strictly; and the cached validator agrees with kubernetes-validate itself."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from render_helpers import SERVICE_EXAMPLES, render_example, render_spec, spec_of

from kubellm.errors import KubellmError
from kubellm.render.validation import OLDEST_VERSION, validate_objects

MODELS = [
    ("hf://meta-llama/Llama-3.1-8B-Instruct", None),
    ("hf://Qwen/Qwen2.5-7B-Instruct", None),
    ("hf://Qwen/Qwen3-32B", None),
    ("hf://mistralai/Mixtral-8x7B-Instruct-v0.1", "Mixtral-8x7B"),
    ("hf://meta-llama/Llama-3.2-1B-Instruct", "Llama-3.2-1B"),
]

specs = st.fixed_dictionaries(
    {
        "model": st.sampled_from(MODELS),
        "engine": st.sampled_from(["vllm", "sglang", "tgi", "trtllm"]),
        "gpu": st.sampled_from(["L4", "L40S", "A100-80GB", "H100-SXM-80GB"]),
        "count": st.sampled_from([1, 2, 4, 8]),
        "max_model_len": st.sampled_from([2048, 8192, 32768]),
        "scaling": st.sampled_from(
            [
                {"min_replicas": 1, "max_replicas": 1},
                {"min_replicas": 1, "max_replicas": 3, "autoscaler": "hpa"},
                {"min_replicas": 0, "max_replicas": 2, "scale_to_zero": True, "metric": "gateway-pending"},
                {"min_replicas": 2, "max_replicas": 4, "metric": "running"},
            ]
        ),
        "storage": st.sampled_from(["pvc", "none", "hostPath"]),
        "spread": st.sampled_from(["zone", "hostname", "none"]),
        "spot": st.sampled_from(["avoid", "prefer", "require"]),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_render_refuses_with_a_fix_or_validates(choice: dict[str, Any]) -> None:
    source, name = choice["model"]
    model: dict[str, Any] = {"source": source}
    if name:
        model["name"] = name
    spec = spec_of(
        model=model,
        engine={"name": choice["engine"]},
        gpu={"type": choice["gpu"], "count": choice["count"]},
        serving={"max_model_len": choice["max_model_len"]},
        scaling=choice["scaling"],
        storage={"model_cache": choice["storage"]},
        placement={"spread": choice["spread"], "spot": choice["spot"]},
    )
    try:
        objects = render_spec(spec)
    except KubellmError as err:
        assert err.what and err.fix, err
        return
    assert validate_objects(objects, OLDEST_VERSION) == []


def test_cached_validator_agrees_with_kubernetes_validate() -> None:
    import kubernetes_validate

    objects = render_example(SERVICE_EXAMPLES[0])
    builtin = [o for o in objects if "." not in o["apiVersion"].split("/")[0] or o["apiVersion"].startswith(
        ("apps/", "batch/", "policy/", "networking.k8s.io/", "autoscaling/"))]  # fmt: skip
    assert builtin
    for obj in builtin:
        kubernetes_validate.validate(obj, OLDEST_VERSION, strict=True)  # raises on a problem
    bad = dict(builtin[0], spec={"unknownField": True})
    try:
        kubernetes_validate.validate(bad, OLDEST_VERSION, strict=True)
    except kubernetes_validate.ValidationError:
        upstream_rejects = True
    else:
        upstream_rejects = False
    assert upstream_rejects == bool(validate_objects([bad], OLDEST_VERSION))
