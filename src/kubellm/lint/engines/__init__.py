"""Engine-argument parsers: vLLM, SGLang, TGI, Triton/TensorRT-LLM, llama.cpp, Ollama, LMDeploy, NIM.

``detect`` finds the engine a container runs and parses its flags and environment into an
:class:`EngineConfig`. What runs decides: the command line when the container sets one (an image that
ships an engine but runs something else, like LMCache's cache server in `lmcache/vllm-openai`, is not
an engine), else the image's own entrypoint, judged by the image name. Shell-wrapped commands
(`sh -c "vllm serve …"`) and Kubernetes `$(VAR)` references are expanded first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.lint.engines import llamacpp, lmdeploy, nim, ollama, sglang, tgi, triton, vllm
from kubellm.lint.engines.argv import command_lines
from kubellm.lint.engines.base import ENGINES, VLLM_LIKE, EngineConfig

__all__ = ["ENGINES", "VLLM_LIKE", "EngineConfig", "detect", "engine_from_image"]

# (substring of the image name, engine); first match wins.
_IMAGE_HINTS = (
    ("huggingfaceserver", "kserve-hf"),
    ("text-generation-inference", "tgi"),
    ("sglang", "sglang"),
    ("vllm", "vllm"),
    ("tensorrt-llm", "trtllm"),
    ("tensorrt_llm", "trtllm"),
    ("tritonserver", "triton"),
    ("triton", "triton"),
    ("llama.cpp", "llamacpp"),
    ("llama-cpp", "llamacpp"),
    ("llamacpp", "llamacpp"),
    ("ollama", "ollama"),
)


def engine_from_image(image: str) -> str | None:
    """The engine an image ships, judged by the image's own name: the last part of the repository, without
    tag or digest. The parts before it name a registry, an organisation or a project, and a project named
    after an engine ships other programs too (`ghcr.io/vllm-project/semantic-router/extproc`)."""
    name = image.split("@", 1)[0].lower().rsplit("/", 1)[-1].split(":", 1)[0]
    for hint, engine in _IMAGE_HINTS:
        if hint in name:
            return engine
    return None


def _from_argv(argv: Sequence[str], env: Mapping[str, str]) -> EngineConfig | None:
    found = vllm.find_invocation(argv)
    if found:
        return vllm.parse(found[0], found[1], env)
    rest = sglang.find_invocation(argv)
    if rest is not None:
        return sglang.parse(rest, env)
    rest = tgi.find_invocation(argv)
    if rest is not None:
        return tgi.parse(rest, env)
    trt = triton.find_invocation(argv)
    if trt:
        return triton.parse(trt[0], trt[1], env)
    rest = llamacpp.find_invocation(argv)
    if rest is not None:
        return llamacpp.parse(rest, env)
    rest = ollama.find_invocation(argv)
    if rest is not None:
        return ollama.parse(rest, env)
    rest = lmdeploy.find_invocation(argv)
    if rest is not None:
        return lmdeploy.parse(rest, env)
    return None


def _from_image_entrypoint(engine: str, args: Sequence[str], env: Mapping[str, str]) -> EngineConfig:
    if engine in VLLM_LIKE:
        return vllm.parse(engine, args, env)
    if engine == "sglang":
        return sglang.parse(args, env)
    if engine == "tgi":
        return tgi.parse(args, env)
    if engine in ("triton", "trtllm"):
        return triton.parse(engine, args, env)
    if engine == "llamacpp":
        return llamacpp.parse(args, env)
    return ollama.parse(args, env)


def detect(
    image: str, command: Sequence[str], args: Sequence[str], env: Mapping[str, str]
) -> EngineConfig | None:
    """The engine a container runs, with its parsed configuration; None for non-engine containers."""
    for argv in command_lines(command, args, env):
        config = _from_argv(argv, env)
        if config is not None:
            return config
    if command:
        return None  # the container runs something else than the image's engine entrypoint
    if nim.is_nim_image(image):
        return nim.parse(image, args, env)
    hint = engine_from_image(image)
    if hint is None:
        return None
    lines = command_lines([], args, env)
    return _from_image_entrypoint(hint, lines[0] if lines else [], env)
