"""vLLM (and KServe's huggingfaceserver, which takes vLLM's flags): `vllm serve MODEL --flag …`.

Flags, spellings and booleans come from the vLLM engine table (``kubellm.engines.vllm``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubellm.engines import VLLM, parse_flags, read_settings, to_int
from kubellm.lint.engines.base import EngineConfig, from_table

ENTRYPOINT_MODULES = (
    "vllm.entrypoints.openai.api_server",
    "vllm.entrypoints.api_server",
    "huggingfaceserver",
    "dynamo.vllm",  # NVIDIA Dynamo's vLLM worker: vLLM's engine arguments
)


def find_invocation(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """('vllm' | 'kserve-hf', the engine's own arguments) when argv starts vLLM, else None."""
    for i, token in enumerate(argv):
        exe = token.rsplit("/", 1)[-1]
        if exe == "vllm" and i + 1 < len(argv) and argv[i + 1] == "serve":
            return "vllm", list(argv[i + 2 :])
        if token == "-m" and i + 1 < len(argv) and argv[i + 1] in ENTRYPOINT_MODULES:
            engine = "kserve-hf" if argv[i + 1] == "huggingfaceserver" else "vllm"
            return engine, list(argv[i + 2 :])
    return None


def parse(
    engine: str, argv: Sequence[str], env: Mapping[str, str], positional_model: bool = True
) -> EngineConfig:
    """vLLM flags (any spelling the table knows) and the VLLM_* / HF_* environment."""
    if argv and argv[0] == "serve":  # image entrypoint `vllm` with args [serve, MODEL, …]
        argv = argv[1:]
    args = parse_flags(argv, VLLM.boolean_keys())
    settings = read_settings(VLLM, args, env)
    model = settings.get("model") or args.get("model-id", "model-dir")
    if model is None and positional_model and args.positionals:
        model = args.positionals[0]
    if engine == "kserve-hf":
        model = args.get("model-id", "model-dir") or model
    return from_table(
        engine,
        VLLM,
        argv,
        env,
        model=model,
        device=args.get("device") or ("cpu" if env.get("VLLM_TARGET_DEVICE") == "cpu" else None),
        api_key=args.has("api-key") or bool(env.get("VLLM_API_KEY")),
        token_on_command_line=args.has("hf-token", "token"),
        max_num_seqs=settings.get("max_num_seqs") or to_int(args.get("max-num-seq")),
        nodes=to_int(args.get("nnodes")),
    )
