"""The rule registry: a rule is a small pure function plus its metadata, registered by decorator.

Scopes: ``pod`` rules see one pod template (and the context), ``object`` rules one object of the
kinds they name, ``set`` rules the whole manifest set (cross-object checks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from kubellm.lint.finding import Hit, RuleMeta, Severity

Scope = Literal["pod", "object", "set"]
# What a pod rule needs to find anything: an engine container, or a GPU resource. The runner skips the
# rule for pods without it (tests/lint/test_runner.py holds every rule that says so to it).
Needs = Literal["engine", "gpu"]
CheckFn = Callable[..., Iterable[Hit]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A registered rule: its metadata, scope and check function."""

    meta: RuleMeta
    scope: Scope
    check: CheckFn
    kinds: frozenset[str] | None = None
    managed: bool = False  # pod rules: also run on controller-managed pods (KubeAI Model, KServe predictor)
    needs: Needs | None = None


REGISTRY: dict[str, Rule] = {}


def rule(
    id: str,
    name: str,
    severity: Severity,
    title: str,
    why: str,
    fix: str,
    *,
    bad: str = "",
    good: str = "",
    mistakes: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    scope: Scope = "pod",
    kinds: Iterable[str] | None = None,
    managed: bool = False,
    needs: Needs | None = None,
) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as rule ``id``; ids are unique and stable."""

    def register(fn: CheckFn) -> CheckFn:
        if id in REGISTRY:
            raise ValueError(f"duplicate lint rule id {id}")
        meta = RuleMeta(
            id, name, severity, title, why.strip(), fix.strip(), bad.strip(), good.strip(), mistakes, sources
        )
        REGISTRY[id] = Rule(meta, scope, fn, frozenset(kinds) if kinds else None, managed, needs)
        return fn

    return register


def all_rules() -> list[Rule]:
    """Every registered rule, in id order (families alphabetical, numbers ascending)."""
    from kubellm.lint import rules  # noqa: F401  (registers the rule modules)

    return sorted(REGISTRY.values(), key=lambda r: _sort_key(r.meta.id))


def _sort_key(rule_id: str) -> tuple[str, int]:
    family = "".join(ch for ch in rule_id if ch.isalpha())
    digits = "".join(ch for ch in rule_id if ch.isdigit())
    return family, int(digits or 0)


def get_rule(rule_id: str) -> Rule | None:
    all_rules()
    return REGISTRY.get(rule_id.upper())


def selected(rule_id: str, select: Iterable[str], ignore: Iterable[str]) -> bool:
    """Whether a rule id passes --select/--ignore (ids or prefixes such as 'GPU' or 'SEC01')."""
    select = [s.upper() for s in select if s]
    ignore = [s.upper() for s in ignore if s]
    if select and not any(rule_id.startswith(s) for s in select):
        return False
    return not any(rule_id.startswith(s) for s in ignore)


def hits(*items: Hit | None) -> list[Hit]:
    return [h for h in items if h is not None]


def describe(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)
