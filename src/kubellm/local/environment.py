"""What this machine can run: vLLM and a GPU, llama.cpp, or neither (then the simulator stands in).

The probe is the only part of engine choice that touches the machine; the choice itself
(:mod:`kubellm.local.engines`) is a pure function of what the probe found.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass, field

# What `python -m llama_cpp.server` imports besides llama_cpp itself (the package's [server] extra).
LLAMA_CPP_SERVER_MODULES = ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


@dataclass(frozen=True)
class Environment:
    """The engines and GPUs found on this machine."""

    vllm_installed: bool = False
    llama_cpp_installed: bool = False
    llama_cpp_server_missing: tuple[str, ...] = field(default_factory=tuple)
    gpus: tuple[str, ...] = field(default_factory=tuple)
    gpu_note: str = "not probed"

    @property
    def llama_cpp_server_ready(self) -> bool:
        """llama_cpp and every module of its [server] extra are importable."""
        return self.llama_cpp_installed and not self.llama_cpp_server_missing


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def probe_gpus(timeout_s: float = 10.0) -> tuple[tuple[str, ...], str]:
    """NVIDIA GPUs as ``nvidia-smi`` lists them, and a note saying how the answer was found."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return (), "nvidia-smi is not on PATH"
    try:
        done = subprocess.run(
            [exe, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return (), f"nvidia-smi failed: {exc}"
    if done.returncode != 0:
        return (), f"nvidia-smi exited {done.returncode}: {done.stderr.strip()[:200]}"
    names = tuple(line.strip() for line in done.stdout.splitlines() if line.strip())
    return names, f"nvidia-smi lists {len(names)} GPU(s)" if names else "nvidia-smi lists no GPU"


def probe_environment() -> Environment:
    """Look for vLLM, llama-cpp-python (with its server extra) and NVIDIA GPUs."""
    gpus, note = probe_gpus()
    return Environment(
        vllm_installed=_installed("vllm"),
        llama_cpp_installed=_installed("llama_cpp"),
        llama_cpp_server_missing=tuple(m for m in LLAMA_CPP_SERVER_MODULES if not _installed(m)),
        gpus=gpus,
        gpu_note=note,
    )
