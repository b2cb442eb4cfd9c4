"""Can the cluster download the model? A gated Hugging Face repository without a token fails only in the
cluster (401 in the prefetch Job, minutes after apply); this check fails at init, plan and render instead."""

from __future__ import annotations

from kubellm.catalog.access import gated_repo
from kubellm.errors import UsageError
from kubellm.spec import LLMService


def hf_repo_id(source: str) -> str | None:
    """'org/name' of an hf:// source, None for other sources."""
    if not source.startswith("hf://"):
        return None
    return "/".join(source[len("hf://") :].split("/")[:2])


def model_access_error(spec: LLMService) -> UsageError | None:
    """The error to raise when ``spec`` downloads a gated repository without security.hf_token_secret."""
    repo = hf_repo_id(spec.model.source)
    if repo is None or spec.security.hf_token_secret:
        return None
    gate = gated_repo(repo)
    if gate is None:
        return None
    return UsageError(
        f"model.source {spec.model.source}: {repo} is gated on the Hugging Face Hub ({gate.note}); without a token "
        "the download fails in the cluster with 401",
        f"accept the terms at https://huggingface.co/{repo}, create a Secret with a read token of that account "
        f"(kubectl -n {spec.metadata.namespace} create secret generic hf-token --from-literal=token=hf_…) and set "
        "security.hf_token_secret: hf-token",
    )


def check_model_access(spec: LLMService) -> None:
    error = model_access_error(spec)
    if error is not None:
        raise error
