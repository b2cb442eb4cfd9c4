"""Container settings Kubernetes reads differently than people expect: shell variables in env values,
credentials on the command line, host networking without cluster DNS."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubellm.lint.context import LintContext
from kubellm.lint.engines.argv import command_lines, flag_name
from kubellm.lint.facts import TOKEN_ENV_NAMES
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.registry import rule
from kubellm.lint.workload import PodView, as_dict, as_list

# `${VAR}` or `$VAR` (not Kubernetes' `$(VAR)`, not the `$$` escape)
SHELL_REFERENCE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
SECRET_FLAGS = re.compile(
    r"^(api-keys?|password|passwd|secret|secret-key|access-key|auth-token|bearer-token)$"
)
# Every SECRET_FLAGS name holds one of these words: a command without them needs no parsing.
_SECRET_WORDS = re.compile(r"key|passw|secret|token", re.IGNORECASE)


@rule(
    "REL014",
    "shell-variable-in-env",
    Severity.WARNING,
    "An env value uses `${VAR}` or `$VAR`, which Kubernetes does not expand",
    why="Kubernetes expands only `$(VAR)` in env values, command and args; `${VAR}` and `$VAR` reach the process "
    "as literal text (`LD_LIBRARY_PATH=/opt/lib:$LD_LIBRARY_PATH` drops the image's library path, "
    "`MODEL=${MODEL_ID}` names no model), unless the file goes through envsubst before it is applied.",
    fix="Write `$(VAR)` for a variable defined earlier in the container's env, or put the literal value.",
    bad="env: [{name: LD_LIBRARY_PATH, value: '/opt/lib:$LD_LIBRARY_PATH'}]",
    good="env: [{name: MODEL_DIR, value: /models}, {name: MODEL_PATH, value: '$(MODEL_DIR)/llama'}]",
)
def shell_variable_in_env(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        for i, item in enumerate(as_list(c.data.get("env"))):
            item = as_dict(item)
            value, name = item.get("value"), str(item.get("name") or "")
            if not isinstance(value, str) or name in TOKEN_ENV_NAMES:
                continue  # a literal token is GPU011's finding
            match = SHELL_REFERENCE.search(value)
            if match:
                var = match.group(1) or match.group(2)
                yield Hit(
                    f"env {name} in {c.name!r} holds {match.group(0)!r} literally: Kubernetes expands only $({var})",
                    f"{c.path}.env[{i}].value",
                    c.name,
                )


@rule(
    "REL015",
    "host-network-dns",
    Severity.WARNING,
    "A hostNetwork pod keeps the default DNS policy",
    why="With `hostNetwork: true` the default `dnsPolicy: ClusterFirst` falls back to the node's resolver: cluster "
    "names (a LeaderWorkerSet leader, a Ray head, the gateway's engines) do not resolve and multi-node start-up "
    "hangs.",
    fix="Set `dnsPolicy: ClusterFirstWithHostNet` next to `hostNetwork: true`.",
    bad="spec: {hostNetwork: true}",
    good="spec: {hostNetwork: true, dnsPolicy: ClusterFirstWithHostNet}",
)
def host_network_dns(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    policy = pod.spec.get("dnsPolicy", "ClusterFirst")
    if pod.spec.get("hostNetwork") is True and policy not in ("ClusterFirstWithHostNet", "None"):
        yield Hit(
            f"hostNetwork with dnsPolicy {policy}: cluster Service names do not resolve",
            f"{pod.path}.dnsPolicy",
        )


def _literal(value: str) -> bool:
    return bool(value) and not value.startswith(("$", "/", "@")) and value.lower() not in ("none", "null", "")


@rule(
    "SEC018",
    "secret-on-command-line",
    Severity.ERROR,
    "An API key or password is written on the command line",
    why="A literal `--api-key sk-…` is readable by anyone who can read the object or run `ps` in the pod, and it "
    "stays in Git and in the Helm release history.",
    fix="Put it in a Secret and pass it through the environment (`VLLM_API_KEY` from `secretKeyRef`) or as "
    "`--api-key $(API_KEY)`.",
    bad="args: [--api-key, sk-kFJ12nKsFVfVmGpj3QzX]",
    good="args: [--api-key, $(API_KEY)]\nenv: [{name: API_KEY, valueFrom: {secretKeyRef: {name: llm, key: key}}}]",
)
def secret_on_command_line(pod: PodView, ctx: LintContext) -> Iterator[Hit]:
    for c in pod.containers:
        flag = _literal_secret_flag(
            [str(t) for t in as_list(c.data.get("command"))], [str(t) for t in as_list(c.data.get("args"))]
        )
        if flag:
            yield Hit(f"{flag} has a literal value in container {c.name!r}", f"{c.path}.args", c.name)


def _literal_secret_flag(command: list[str], args: list[str]) -> str | None:
    if not any(_SECRET_WORDS.search(token) for token in (*command, *args)):
        return None
    for argv in command_lines(command, args, {}):
        for i, token in enumerate(argv):
            if not token.startswith("--"):
                continue
            name, eq, value = token.partition("=")
            if not eq:
                value = argv[i + 1] if i + 1 < len(argv) else ""
            if SECRET_FLAGS.match(flag_name(name)) and _literal(value):
                return name
    return None
