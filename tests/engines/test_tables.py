"""The engine tables themselves: spellings resolve to one flag, readers read env twins, the guard names fields."""

from __future__ import annotations

import pytest

from kubellm.engines import (
    KUBELLM,
    LLAMACPP,
    NIM,
    OLLAMA,
    RENDERED,
    SGLANG,
    TABLES,
    TGI,
    VLLM,
    EngineTable,
    Flag,
    Readiness,
    check_extra_args,
    check_extra_env,
    flag_key,
    parse_flags,
    read_settings,
)
from kubellm.errors import UsageError


@pytest.mark.parametrize(
    ("token", "key"),
    [("--max-model-len", "max-model-len"), ("--max_model_len=8", "max-model-len"), ("--Max_Model-Len", "max-model-len"),
     ("-tp", "tp"), ("-c", "c"), ("-C", "C"), ("--no-enable-prefix-caching", "no-enable-prefix-caching")],
)  # fmt: skip
def test_flag_keys_ignore_spelling_but_not_single_letter_case(token: str, key: str) -> None:
    assert flag_key(token) == key


def test_a_spelling_that_belongs_to_two_flags_is_refused() -> None:
    with pytest.raises(ValueError, match="two flags"):
        EngineTable(
            name="x", title="X", default_port=1, readiness=Readiness("/", "/", False),
            flags=(Flag("--tp-size"), Flag("--tensor-parallel", aliases=("--tp_size",))),
        )  # fmt: skip


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_rendered_engines_name_their_metrics_probes_and_planned_settings(name: str) -> None:
    table = TABLES[name]
    assert table.metrics is not None and table.metrics.queue and table.metrics.running
    assert table.readiness.ready_path.startswith("/") and table.readiness.live_path.startswith("/")
    for setting in ("max_model_len", "max_num_seqs", "max_num_batched_tokens"):
        assert any(f.setting == setting and f.owner for f in table.flags), (
            f"{name}: no owned flag for {setting}"
        )


def test_vllm_reads_the_last_spelling_given_and_negations() -> None:
    argv = [
        "--max-model-len",
        "4096",
        "--max_model_len=8192",
        "--enable-prefix-caching",
        "--no-enable-prefix-caching",
    ]
    got = read_settings(VLLM, parse_flags(argv, VLLM.boolean_keys()), {})
    assert got["max_model_len"] == 8192 and got["prefix_caching"] is False


def test_a_boolean_flag_keeps_the_next_token_positional() -> None:
    args = parse_flags(
        ["--enforce-eager", "/models/x", "--no-enable-prefix-caching", "y"], VLLM.boolean_keys()
    )
    assert args.positionals == ["/models/x", "y"]


def test_sglang_disable_radix_cache_reads_as_prefix_caching_off() -> None:
    got = read_settings(SGLANG, parse_flags(["--disable-radix-cache"], SGLANG.boolean_keys()), {})
    assert got == {"prefix_caching": False}


def test_tgi_reads_environment_twins_and_the_flag_wins() -> None:
    env = {"MAX_TOTAL_TOKENS": "4096", "NUM_SHARD": "2", "PREFIX_CACHING": "0"}
    got = read_settings(TGI, parse_flags(["--num-shard", "4"], TGI.boolean_keys()), env)
    assert got["max_model_len"] == 4096 and got["tensor_parallel"] == 4 and got["prefix_caching"] is False


def test_env_only_engines_read_their_variables() -> None:
    assert read_settings(OLLAMA, parse_flags([]), {"OLLAMA_CONTEXT_LENGTH": "8192"}) == {
        "max_model_len": 8192
    }
    assert read_settings(NIM, parse_flags([]), {"NIM_TENSOR_PARALLEL_SIZE": "2"}) == {"tensor_parallel": 2}


def test_value_spellings_map_both_ways() -> None:
    quantize = TGI.flag("quantization")
    assert (
        quantize.engine_value("int4") == "bitsandbytes-nf4"
        and quantize.spec_value("bitsandbytes-nf4") == "int4"
    )
    assert VLLM.flag("quantization").spec_value("AWQ_Marlin") == "awq"
    assert VLLM.flag("dtype").spec_value("half") == "float16"


def test_the_guard_names_the_spec_field_or_kubellm() -> None:
    with pytest.raises(UsageError) as err:
        check_extra_args(VLLM, ["--trust-remote-code", "-tp", "4"])
    assert "-tp (= --tensor-parallel-size)" in err.value.what and "gpu.count" in err.value.fix
    with pytest.raises(UsageError) as err:
        check_extra_args(VLLM, ["--port=9000"])
    assert KUBELLM in err.value.fix and "gpu" not in err.value.fix
    check_extra_args(VLLM, ["--trust-remote-code", "--disable-log-stats", "--max-loras", "2"])
    with pytest.raises(UsageError) as err:  # the planner's memory accounting reads it: a spec field owns it
        check_extra_args(VLLM, ["--enforce-eager"])
    assert "serving.enforce_eager" in err.value.fix


def test_the_guard_refuses_environment_twins_of_planned_flags() -> None:
    with pytest.raises(UsageError, match=r"serving\.max_model_len"):
        check_extra_env(TGI, {"MAX_TOTAL_TOKENS": "131072"})
    with pytest.raises(UsageError, match=r"serving\.max_model_len"):
        check_extra_env(LLAMACPP, {"LLAMA_ARG_CTX_SIZE": "131072"})
    with pytest.raises(UsageError, match=r"serving\.prefix_caching"):
        check_extra_env(TGI, {"PREFIX_CACHING": "1"})
    check_extra_env(VLLM, {"VLLM_LOGGING_LEVEL": "DEBUG"})
