"""Command lines as Kubernetes and a shell see them: `$(VAR)` expansion, `sh -c` scripts, flags.

``command_lines`` turns a container's command and args into one or more argv lists (one per simple
command of a shell script). Flags are then read by the engine tables (``kubellm.engines``):
``parse_flags`` and ``read_settings`` live there, beside the flag names they read.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

from kubellm.engines import ParsedArgs, flag_key, parse_flags, to_float, to_int

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
_K8S_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
_SHELL_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_SEPARATORS = re.compile(r"\n|;|&&|\|\||\||&")


def expand_k8s(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion in command/args: known variables are replaced, `$$` escapes."""

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _K8S_VAR.sub(repl, text)


def expand_shell(text: str, env: Mapping[str, str]) -> str:
    """Shell `$VAR` / `${VAR}` expansion for variables whose value the manifest states."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    return _SHELL_VAR.sub(repl, text)


def _shell_script(argv: Sequence[str]) -> str | None:
    """The script of `sh -c SCRIPT` / `bash -ec SCRIPT`, or None when argv is not a shell call."""
    if not argv:
        return None
    exe = argv[0].rsplit("/", 1)[-1]
    if exe not in SHELLS:
        return None
    for i, token in enumerate(argv[1:], start=1):
        if token.startswith("-") and not token.startswith("--") and "c" in token:
            return " ".join(argv[i + 1 :]) if i + 1 < len(argv) else ""
        if not token.startswith("-"):
            return None  # `bash script.sh`
    return None


def split_script(script: str, env: Mapping[str, str]) -> list[list[str]]:
    """Simple commands of a shell script, each split into words (best effort, never raises)."""
    commands: list[list[str]] = []
    # Join backslash-continued lines first, so a long command stays one command.
    script = script.replace("\\\n", " ")
    for part in _SEPARATORS.split(script):
        part = expand_shell(part.strip(), env)
        if not part:
            continue
        try:
            words = shlex.split(part, comments=True)
        except ValueError:
            words = part.split()
        while words and words[0] == "exec":
            words = words[1:]
        if words:
            commands.append(words)
    return commands


def command_lines(command: Sequence[str], args: Sequence[str], env: Mapping[str, str]) -> list[list[str]]:
    """Every argv the container may run: one list, or one per simple command of an `sh -c` script."""
    argv = [expand_k8s(str(token), env) for token in [*command, *args]]
    script = _shell_script(argv)
    if script is None:
        return [argv] if argv else []
    return split_script(script, env)


def flag_name(token: str) -> str:
    """'--Max_Model-Len' → 'max-model-len'; '-tp' → 'tp' (the engine tables' spelling-free key)."""
    return flag_key(token)


__all__ = [
    "ParsedArgs",
    "command_lines",
    "expand_k8s",
    "expand_shell",
    "flag_name",
    "parse_flags",
    "split_script",
    "to_float",
    "to_int",
]
