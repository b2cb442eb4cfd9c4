"""Reading an engine's settings back from its argv and environment, by its table.

``parse_flags`` reads ``--a=1 --b 2 -c 3 --bare pos`` without a schema (booleans from the table keep the
next token positional); ``read_settings`` then picks every setting the table names, in any spelling,
the last occurrence winning as in the engines' own parsers, the command line winning over the
environment. Values stay in the engine's own spelling; ``Flag.spec_value`` maps them to the spec's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubellm.engines.table import EngineTable, Flag, ValueKind, flag_key


@dataclass(slots=True)
class ParsedArgs:
    """Flags (key → every value given, '' for a bare flag), their order, and positionals."""

    flags: dict[str, list[str]] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)
    order: list[tuple[str, str]] = field(default_factory=list)

    def add(self, key: str, value: str) -> None:
        self.flags.setdefault(key, []).append(value)
        self.order.append((key, value))

    def get(self, *names: str) -> str | None:
        """The last value of the first of ``names`` present (engines take the last occurrence)."""
        for name in names:
            values = self.flags.get(flag_key(name))
            if values:
                return values[-1]
        return None

    def has(self, *names: str) -> bool:
        return any(flag_key(name) in self.flags for name in names)

    def last(self, keys: frozenset[str]) -> tuple[str, str] | None:
        """The last (key, value) whose key is one of ``keys``, across spellings."""
        for key, value in reversed(self.order):
            if key in keys:
                return key, value
        return None


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_flags(argv: Sequence[str], boolean: frozenset[str] = frozenset()) -> ParsedArgs:
    """Parse argv without a schema; keys in ``boolean`` (see :func:`flag_key`) never take a value."""
    parsed = ParsedArgs()
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("-") and len(token) > 1 and not _is_number(token):
            key = flag_key(token)
            if "=" in token:
                parsed.add(key, token.partition("=")[2])
            else:
                nxt = argv[i + 1] if i + 1 < len(argv) else None
                if key not in boolean and nxt is not None and (not nxt.startswith("-") or _is_number(nxt)):
                    parsed.add(key, nxt)
                    i += 1
                else:
                    parsed.add(key, "")
        else:
            parsed.positionals.append(token)
        i += 1
    return parsed


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


_TRUE = frozenset({"1", "true", "yes", "on", ""})


def convert(kind: ValueKind, raw: str) -> Any:
    if kind == "int":
        return to_int(raw)
    if kind == "float":
        return to_float(raw)
    if kind == "bool":
        return raw.strip().strip("'\"").lower() in _TRUE
    return raw


def _flag_value(table: EngineTable, flag: Flag, args: ParsedArgs, env: Mapping[str, str]) -> Any:
    found = args.last(flag.keys)
    if found is not None:
        key, raw = found
        if flag.boolean:
            negated = flag.negation is not None and key == flag_key(flag.negation)
            return flag.when_present != negated
        return convert(flag.kind, raw)
    env_name = table.env_name(flag)
    if env_name and env_name in env:
        return convert(flag.kind, env[env_name])
    return None


def read_settings(table: EngineTable, args: ParsedArgs, env: Mapping[str, str]) -> dict[str, Any]:
    """Every setting the argv and environment state, by setting name (``max_model_len`` → 8192)."""
    out: dict[str, Any] = {}
    for flag in table.flags:
        if flag.setting is None or flag.derived or flag.setting in out:
            continue
        value = _flag_value(table, flag, args, env)
        if value is not None:
            out[flag.setting] = value
    for setting in table.env:
        if setting.setting and setting.setting not in out and setting.name in env:
            raw = env[setting.name]
            for spec_value, engine_value in setting.values:
                if raw.strip().lower() == engine_value:
                    raw = spec_value
            value = convert(setting.kind, raw)
            if value is not None:
                out[setting.setting] = value
    return out
