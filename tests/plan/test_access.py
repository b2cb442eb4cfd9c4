"""A gated Hugging Face repository without a token fails at plan time, naming the repository (a GGUF file's
path inside it does not count) and what happens in the cluster otherwise."""

from __future__ import annotations

import pytest

from kubellm.errors import UsageError
from kubellm.planning.access import check_model_access, hf_repo_id
from kubellm.spec import LLMService


def _spec(source: str, **security: str) -> LLMService:
    return LLMService.model_validate(
        {"metadata": {"name": "x"}, "model": {"source": source}, "gpu": {"type": "L4"}, "security": security}
    )


def test_the_repository_of_a_file_inside_it_is_org_and_name() -> None:
    assert hf_repo_id("hf://microsoft/Phi-3-mini-4k-instruct-gguf/Phi-3-mini-4k-instruct-q4.gguf") == (
        "microsoft/Phi-3-mini-4k-instruct-gguf"
    )
    assert hf_repo_id("hf://Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"
    assert hf_repo_id("s3://bucket/Qwen/Qwen2.5-7B-Instruct") is None


def test_a_gated_repository_without_a_token_is_refused_with_what_would_happen() -> None:
    with pytest.raises(UsageError) as err:
        check_model_access(_spec("hf://meta-llama/Llama-3.1-8B-Instruct"))
    assert "meta-llama/Llama-3.1-8B-Instruct is gated" in err.value.what
    assert err.value.what.endswith("without a token the download fails in the cluster with 401")
    assert "security.hf_token_secret: hf-token" in err.value.fix
    check_model_access(_spec("hf://meta-llama/Llama-3.1-8B-Instruct", hf_token_secret="hf-token"))
    check_model_access(_spec("hf://Qwen/Qwen2.5-7B-Instruct"))
