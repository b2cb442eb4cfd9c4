"""Command lines as Kubernetes and a shell see them: `$(VAR)` expansion, `sh -c` scripts, flags.

``command_lines`` turns a container's command and args into one or more argv lists (one per simple
command of a shell script). ``parse_flags`` reads `--flag=value`, `--flag value`, `-f value` and
positionals without knowing the engine; engines then pick the flags they understand.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    """'--Max_Model-Len' → 'max-model-len'; '-tp' → 'tp'."""
    return token.lstrip("-").replace("_", "-").lower()


@dataclass(slots=True)
class ParsedArgs:
    """Flags (name → every value given, '' for a bare flag) and positionals, in order."""

    flags: dict[str, list[str]] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)

    def get(self, *names: str) -> str | None:
        """The last value of the first of ``names`` present (engines take the last occurrence)."""
        for name in names:
            values = self.flags.get(name)
            if values:
                return values[-1]
        return None

    def has(self, *names: str) -> bool:
        return any(name in self.flags for name in names)


def parse_flags(argv: Sequence[str], boolean: frozenset[str] = frozenset()) -> ParsedArgs:
    """Parse `--a=1 --b 2 -c 3 --bare pos` without a schema; ``boolean`` flags never take a value."""
    parsed = ParsedArgs()
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("-") and len(token) > 1 and not _is_number(token):
            if "=" in token:
                name, _, value = token.partition("=")
                parsed.flags.setdefault(flag_name(name), []).append(value)
            else:
                name = flag_name(token)
                nxt = argv[i + 1] if i + 1 < len(argv) else None
                if name not in boolean and nxt is not None and (not nxt.startswith("-") or _is_number(nxt)):
                    parsed.flags.setdefault(name, []).append(nxt)
                    i += 1
                else:
                    parsed.flags.setdefault(name, []).append("")
        else:
            parsed.positionals.append(token)
        i += 1
    return parsed


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def to_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip().strip("'\"")))
    except (ValueError, OverflowError):
        return None


def to_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip().strip("'\""))
    except ValueError:
        return None
