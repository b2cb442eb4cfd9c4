"""Tested, pinned images: the tag each engine adapter's command line was written for.

A spec may pin its own image (tag or digest); these are the defaults. ``render --images`` lists
every image a rendered service uses, so scanners (Trivy, Grype) can run over them in CI.
"""

from __future__ import annotations

from kubellm import RELEASE_IMAGE
from kubellm.planning.vllm_versions import PINNED_VLLM_VERSION

# Engine images. The argument spellings of each adapter follow the documentation of these tags.
# The planner's default memory accounting follows the same release (kubellm.planning.vllm_versions).
VLLM_IMAGE = f"vllm/vllm-openai:v{PINNED_VLLM_VERSION}"
SGLANG_IMAGE = "lmsysorg/sglang:v0.5.3-cu126"
TGI_IMAGE = "ghcr.io/huggingface/text-generation-inference:3.3.7"
TRITON_TRTLLM_IMAGE = "nvcr.io/nvidia/tritonserver:25.08-trtllm-python-py3"
LLAMACPP_CPU_IMAGE = "ghcr.io/ggml-org/llama.cpp:server-b6615"
LLAMACPP_CUDA_IMAGE = "ghcr.io/ggml-org/llama.cpp:server-cuda-b6615"

# The Gateway API Inference Extension's endpoint picker (gateway.kind: inference-extension): the image of its
# last release that ships one, v1.5.0 (the chart's inferenceExtension.image).
EPP_IMAGE = "registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0"

# Support images: the kubellm gateway, and a small Python for the prefetch (stdlib only).
GATEWAY_IMAGE = RELEASE_IMAGE  # spec gateway.image or `render --gateway-image` replace it
PREFETCH_IMAGE = "python:3.12.7-slim-bookworm"

# Cluster setup: CUDA base for the GPU smoke test, pause for the warm-node placeholder.
CUDA_SMOKE_IMAGE = "nvcr.io/nvidia/cuda:12.6.3-base-ubuntu24.04"
CUDA_SAMPLE_IMAGE = "nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda12.5.0-ubuntu22.04"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
