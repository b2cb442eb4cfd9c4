"""The shape of an engine table: each flag's canonical name, its other spellings, who owns it, how to read it.

One module per engine fills in an :class:`EngineTable`; the plan's argument builder, the render adapters
and their extra-args guard, the lint parsers and FIT reverse maps, local mode and the simulator all read
it, so a flag's name, owner and meaning are written once.

Spellings: every flag matches with ``_`` or ``-`` between words, as ``--flag=value`` or ``--flag value``,
with one or two leading dashes, and by its negation (``--no-enable-prefix-caching``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

ValueKind = Literal["int", "float", "str", "bool"]

# Owners that are not spec fields: kubellm sets the flag itself (listen address, container port, …).
KUBELLM = "kubellm"


def flag_key(token: str) -> str:
    """The spelling-free key of a flag token: '--Max_Model-Len=4096' → 'max-model-len', '-tp' → 'tp'.

    Leading dashes, the ``=value`` tail and the ``_``/``-`` choice are dropped; long names are compared
    case-insensitively, single letters (``-c`` vs ``-C``) are not.
    """
    name = token.split("=", 1)[0].lstrip("-").replace("_", "-")
    return name.lower() if len(name) > 1 else name


@dataclass(frozen=True, slots=True)
class Flag:
    """One engine flag, as kubellm writes it and as a reader finds it.

    ``setting`` names the value it carries in kubellm's engine-neutral vocabulary (the Plan's
    ``settings``/``parallelism`` attribute and lint's ``EngineConfig`` attribute of the same name).
    ``owner`` is the spec field that drives it (``serving.max_model_len``), :data:`KUBELLM` when kubellm
    sets it itself, or None when the flag is free for ``engine.extra_args``. ``derived`` flags carry a
    value computed from the setting (TGI's max input = context − 1), so they read back to nothing.
    ``values`` maps a spec value to the engine's spelling (``int4`` → ``bitsandbytes-nf4``);
    ``reads`` maps more engine spellings back to spec values (``awq_marlin`` → ``awq``).
    A boolean flag sets its setting to ``when_present`` and its ``negation`` to the opposite.
    """

    name: str
    setting: str | None = None
    owner: str | None = None
    aliases: tuple[str, ...] = ()
    negation: str | None = None
    boolean: bool = False
    when_present: bool = True
    env: str | None = None
    kind: ValueKind = "str"
    derived: bool = False
    values: tuple[tuple[str, str], ...] = ()
    reads: tuple[tuple[str, str], ...] = ()

    @property
    def spellings(self) -> tuple[str, ...]:
        """The canonical name, its aliases and the negation, as written."""
        return (self.name, *self.aliases, *((self.negation,) if self.negation else ()))

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(flag_key(s) for s in self.spellings)

    @property
    def owned(self) -> bool:
        return self.owner is not None

    def engine_value(self, spec_value: str) -> str:
        """How the engine spells a spec value (unchanged when the table says nothing)."""
        return dict(self.values).get(spec_value, spec_value)

    def spec_value(self, engine_value: str) -> str:
        """The spec value an engine spelling reads back to (the inverse of ``values``, plus ``reads``)."""
        lowered = engine_value.strip().lower()
        for spec, engine in self.values:
            if engine.lower() == lowered:
                return spec
        return dict(self.reads).get(lowered, engine_value)

    def is_negation(self, token: str) -> bool:
        return self.negation is not None and flag_key(token) == flag_key(self.negation)


@dataclass(frozen=True, slots=True)
class EnvSetting:
    """A setting an engine reads from an environment variable (Ollama, NIM, TGI's PREFIX_CACHING)."""

    name: str
    setting: str | None = None
    owner: str | None = None
    kind: ValueKind = "str"
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MetricNames:
    """Prometheus names of an engine's load signals (PromQL selectors, label matchers allowed)."""

    queue: str
    running: str
    kv_usage: str | None
    kv_usage_scale: float = 1.0  # multiply to get a 0..1 fraction
    path: str = "/metrics"
    port_name: str = "http"  # the container port (by name) that serves them


@dataclass(frozen=True, slots=True)
class Readiness:
    """How an engine says it is up. ``listens_before_loaded``: the HTTP port answers while the model
    loads (so a TCP probe or a route that answers early says nothing about the model)."""

    ready_path: str
    live_path: str
    listens_before_loaded: bool
    ready_paths: tuple[str, ...] = ()  # every path a manifest may probe that answers only once loaded
    # the route on the serving (OpenAI) port a gateway in front probes; unset: live_path, on that port
    serving_path: str | None = None

    @property
    def gateway_path(self) -> str:
        """What a gateway in front of the engine probes (200 = it takes requests)."""
        return self.serving_path or self.live_path


@dataclass(frozen=True, slots=True)
class EngineTable:
    """Everything kubellm knows about one serving engine, as data."""

    name: str
    title: str
    flags: tuple[Flag, ...]
    default_port: int
    readiness: Readiness
    metrics: MetricNames | None = None
    rendered: bool = True  # kubellm plans and renders it (False: lint recognises it only)
    port: int | None = None  # the port kubellm serves it on (default: the engine's own)
    served_name_flag: str | None = None  # None: the engine answers any model name
    upstream_model: str | None = (
        None  # the name the engine serves whatever the served name (Triton: ensemble)
    )
    switches: tuple[str, ...] = ()  # unowned flags that never take a value (parsers must know them)
    env: tuple[EnvSetting, ...] = ()
    env_twins: bool = False  # every flag also reads from its UPPER_SNAKE environment variable (TGI)
    notes: str = ""
    _by_key: dict[str, Flag] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for flag in self.flags:
            for key in flag.keys:
                if key in self._by_key:
                    raise ValueError(f"{self.name}: spelling {key!r} belongs to two flags")
                self._by_key[key] = flag

    @property
    def serving_port(self) -> int:
        return self.port if self.port is not None else self.default_port

    def find(self, token: str) -> Flag | None:
        """The flag a command-line token sets, in any spelling (``--max_model_len=8``, ``-tp``), else None."""
        if not token.startswith("-"):
            return None
        return self._by_key.get(flag_key(token))

    def named(self, spelling: str) -> Flag:
        """The flag of a spelling the table must know (KeyError otherwise): for writers of literal flags."""
        flag = self.find(spelling)
        if flag is None:
            raise KeyError(f"{self.name} has no flag {spelling!r}")
        return flag

    def flag(self, setting: str) -> Flag:
        """The (first, non-derived) flag that carries ``setting``; KeyError when the engine has none."""
        for f in self.flags:
            if f.setting == setting and not f.derived:
                return f
        raise KeyError(f"{self.name} has no flag for {setting!r}")

    def owned_flags(self) -> Iterator[Flag]:
        return (f for f in self.flags if f.owned)

    def boolean_keys(self) -> frozenset[str]:
        """Keys of every flag that never takes a value (so a parser keeps the next token positional)."""
        keys = {k for f in self.flags if f.boolean for k in f.keys}
        return frozenset(keys | {flag_key(s) for s in self.switches})

    def env_name(self, flag: Flag) -> str | None:
        """The environment variable that sets ``flag`` too (its own, or the UPPER_SNAKE twin)."""
        if flag.env:
            return flag.env
        return flag_key(flag.name).upper().replace("-", "_") if self.env_twins else None

    def env_setting(self, name: str) -> EnvSetting | None:
        for e in self.env:
            if e.name == name:
                return e
        return None
