"""The OpenAI API as the `openai` SDK sees it: responses, streams, errors, /health and /metrics."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubellm.sim import tokenizer

from .conftest import RunningSim, small_config


@pytest.fixture
def sim(start_sim: Callable[..., RunningSim]) -> RunningSim:
    return start_sim()


def client(sim: RunningSim, key: str = "anything") -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.v1, api_key=key, max_retries=0, timeout=10)


def test_models_lists_the_served_name_with_its_context(sim: RunningSim) -> None:
    models = client(sim).models.list()
    assert [m.id for m in models.data] == ["sim-model"]
    assert models.data[0].model_extra is not None and models.data[0].model_extra["max_model_len"] == 512


def test_completion_generates_exactly_max_tokens_with_usage(sim: RunningSim) -> None:
    prompt = "The quick brown fox jumps over the lazy dog."
    result = client(sim).completions.create(model="sim-model", prompt=prompt, max_tokens=7)
    assert result.choices[0].finish_reason == "length"
    assert result.usage is not None
    assert result.usage.completion_tokens == 7
    assert result.usage.prompt_tokens == tokenizer.count_tokens(prompt)
    assert tokenizer.count_tokens(result.choices[0].text) == 7


def test_chat_completion_answers_as_assistant(sim: RunningSim) -> None:
    result = client(sim).chat.completions.create(
        model="sim-model", messages=[{"role": "user", "content": "hello"}], max_tokens=4
    )
    assert result.choices[0].message.role == "assistant"
    assert result.usage is not None and result.usage.completion_tokens == 4
    assert result.usage.prompt_tokens == tokenizer.count_tokens(tokenizer.render_chat([("user", "hello")]))


def test_chat_stream_sends_role_then_one_token_per_chunk_then_usage(sim: RunningSim) -> None:
    stream = client(sim).chat.completions.create(
        model="sim-model",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=5,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    contents = [c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta.content]
    assert len(contents) == 5
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5


def test_completion_stream_without_usage_ends_with_finish_reason(sim: RunningSim) -> None:
    chunks = list(client(sim).completions.create(model="sim-model", prompt="hi", max_tokens=3, stream=True))
    assert [c.choices[0].finish_reason for c in chunks] == [None, None, "length"]
    assert all(c.usage is None for c in chunks)


def test_output_text_is_deterministic(sim: RunningSim) -> None:
    c = client(sim)
    first = c.completions.create(model="sim-model", prompt="a", max_tokens=12).choices[0].text
    second = c.completions.create(model="sim-model", prompt="b", max_tokens=12).choices[0].text
    assert first == second


def test_unknown_model_is_404_not_found(sim: RunningSim) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client(sim).completions.create(model="gpt-4", prompt="hi", max_tokens=1)
    assert err.value.body == {
        "message": "The model `gpt-4` does not exist.",
        "type": "NotFoundError",
        "param": "model",
        "code": 404,
    }


def test_prompt_longer_than_context_is_400(sim: RunningSim) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client(sim).completions.create(model="sim-model", prompt="word " * 600, max_tokens=1)
    assert "maximum context length is 512 tokens" in err.value.message


def test_prompt_plus_max_tokens_over_context_is_400(sim: RunningSim) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client(sim).chat.completions.create(
            model="sim-model", messages=[{"role": "user", "content": "hi"}], max_tokens=600
        )
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "max_tokens"


def test_unsupported_parameter_is_400_naming_it(sim: RunningSim) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client(sim).completions.create(model="sim-model", prompt="hi", max_tokens=2, n=2)
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "n"


def test_malformed_json_is_400_openai_shaped(sim: RunningSim) -> None:
    response = httpx.post(f"{sim.v1}/completions", content=b'{"model": "sim-model", "prompt": ', timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "BadRequestError"


def test_unknown_route_is_404_openai_shaped(sim: RunningSim) -> None:
    response = httpx.get(f"{sim.v1}/embeddings", timeout=10)
    assert response.status_code in (404, 405)
    assert response.json()["error"]["code"] == response.status_code


def test_api_key_is_enforced_only_when_set(start_sim: Callable[..., RunningSim]) -> None:
    sim = start_sim(api_key="s3cret")
    with pytest.raises(openai.AuthenticationError):
        client(sim, "wrong").models.list()
    assert client(sim, "s3cret").models.list().data[0].id == "sim-model"
    assert httpx.get(f"{sim.base_url}/health", timeout=10).status_code == 200


def test_health_is_200(sim: RunningSim) -> None:
    assert httpx.get(f"{sim.base_url}/health", timeout=10).status_code == 200


def test_metrics_use_vllm_names_types_and_model_label(sim: RunningSim) -> None:
    client(sim).completions.create(model="sim-model", prompt="hello there", max_tokens=3)
    text = httpx.get(f"{sim.base_url}/metrics", timeout=10).text
    types = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE"))
    assert types["vllm:num_requests_running"] == "gauge"
    assert types["vllm:num_requests_waiting"] == "gauge"
    assert types["vllm:kv_cache_usage_perc"] == "gauge"
    assert types["vllm:prompt_tokens_total"] == "counter"
    assert types["vllm:generation_tokens_total"] == "counter"
    assert types["vllm:request_success_total"] == "counter"
    assert types["vllm:time_to_first_token_seconds"] == "histogram"
    assert types["vllm:e2e_request_latency_seconds"] == "histogram"
    assert 'vllm:generation_tokens_total{engine="0",model_name="sim-model"} 3.0' in text
    assert (
        'vllm:request_success_total{engine="0",model_name="sim-model",finished_reason="length"} 1.0' in text
    )
    assert 'vllm:time_to_first_token_seconds_count{engine="0",model_name="sim-model"} 1.0' in text
    assert (
        'vllm:cache_config_info{block_size="16",enable_prefix_caching="True",num_gpu_blocks="256"} 1.0'
        in text
    )


def test_stop_distribution_ends_early_unless_ignore_eos(start_sim: Callable[..., RunningSim]) -> None:
    sim = start_sim(small_config(stop_mean_tokens=3.0, seed=7))
    c = client(sim)
    lengths = [
        c.completions.create(model="sim-model", prompt="x", max_tokens=60).usage.completion_tokens
        for _ in range(6)
    ]  # type: ignore[union-attr]
    assert min(lengths) < 60
    forced = c.completions.create(
        model="sim-model", prompt="x", max_tokens=60, extra_body={"ignore_eos": True}
    )
    assert forced.usage is not None and forced.usage.completion_tokens == 60


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5000) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
_bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["sim-model", "other", 3]),
        "prompt": _json,
        "messages": _json,
        "max_tokens": _json,
        "stream": _json,
        "stream_options": _json,
        "n": _json,
        "temperature": _json,
        "logprobs": _json,
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies, chat=st.booleans())
def test_any_body_gets_a_shaped_answer_never_500(
    sim: RunningSim, body: dict[str, object], chat: bool
) -> None:
    path = "/chat/completions" if chat else "/completions"
    response = httpx.post(f"{sim.v1}{path}", content=json.dumps(body), timeout=10)
    assert response.status_code in (200, 400, 404)
    if response.status_code != 200:
        error = response.json()["error"]
        assert error["code"] == response.status_code and error["message"]


def _metric(text: str, prefix: str) -> float:
    return next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def test_client_that_leaves_mid_stream_frees_its_place(start_sim: Callable[..., RunningSim]) -> None:
    sim = start_sim(time_scale=5.0)  # 5 ms steps: the stream is still going when the client leaves
    body = {"model": "sim-model", "prompt": "hello", "max_tokens": 400, "stream": True}
    with httpx.stream("POST", f"{sim.v1}/completions", json=body, timeout=10) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("data: {"))
    for _ in range(200):
        text = httpx.get(f"{sim.base_url}/metrics", timeout=10).text
        if _metric(text, "vllm:num_requests_running{") == 0:
            break
        httpx.get(f"{sim.base_url}/health", timeout=10)
    assert _metric(text, "vllm:num_requests_running{") == 0
    assert (
        _metric(text, 'vllm:request_success_total{engine="0",model_name="sim-model",finished_reason="abort"}')
        == 1
    )
    assert _metric(text, "vllm:kv_cache_usage_perc{") == 0


def test_chat_without_max_tokens_stops_like_a_model_at_eos(sim: RunningSim) -> None:
    result = client(sim).chat.completions.create(
        model="sim-model", messages=[{"role": "user", "content": "hi"}]
    )
    assert result.usage is not None
    assert result.choices[0].finish_reason == "stop"
    assert 1 <= result.usage.completion_tokens < 512 - result.usage.prompt_tokens


def test_completion_without_max_tokens_gives_vllms_default_16(sim: RunningSim) -> None:
    result = client(sim).completions.create(model="sim-model", prompt="hi")
    assert result.usage is not None and result.usage.completion_tokens == 16
