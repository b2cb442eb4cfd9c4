"""The extra-args guard: an ``engine.extra_args`` entry (or ``engine.env`` variable) that sets a flag kubellm
plans is an error naming the spec field to use instead — on a cluster (render) and locally (``kubellm up``).

Every spelling counts: ``--max_model_len=131072`` conflicts with the planned ``--max-model-len 8192``, and
``--enable-prefix-caching`` with the planned ``--no-enable-prefix-caching``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kubellm.engines.table import KUBELLM, EngineTable, Flag, flag_key
from kubellm.errors import UsageError


def conflicting_flag(table: EngineTable, arg: str) -> Flag | None:
    """The owned flag ``arg`` would set (any spelling), else None."""
    flag = table.find(arg)
    return flag if flag is not None and flag.owned else None


def _fix(flag: Flag, written: str) -> str:
    if flag.owner == KUBELLM:
        return f"remove {written} from engine.extra_args: kubellm sets {flag.name} itself"
    return f"remove {written} from engine.extra_args and set {flag.owner} in the spec instead"


def check_extra_args(table: EngineTable, extra_args: Iterable[str]) -> None:
    """Raise a UsageError for the first extra arg that sets a flag kubellm plans."""
    for arg in extra_args:
        flag = conflicting_flag(table, arg)
        if flag is None:
            continue
        written = arg.split("=", 1)[0]
        same = (
            "" if flag_key(written) == flag_key(flag.name) and written == flag.name else f" (= {flag.name})"
        )
        owner = "kubellm's own setting" if flag.owner == KUBELLM else flag.owner
        raise UsageError(
            f"engine.extra_args sets {written}{same}, which {table.title} gets from {owner}",
            _fix(flag, written),
        )


def check_extra_env(table: EngineTable, env: Mapping[str, str]) -> None:
    """Raise a UsageError for an ``engine.env`` variable that sets what kubellm plans (TGI's twins, …)."""
    for name in env:
        for flag in table.owned_flags():
            if table.env_name(flag) == name:
                raise UsageError(
                    f"engine.env sets {name}, which {table.title} reads as {flag.name} (from {flag.owner})",
                    f"remove {name} from engine.env"
                    + ("" if flag.owner == KUBELLM else f" and set {flag.owner} in the spec instead"),
                )
        setting = table.env_setting(name)
        if setting is not None and setting.owner is not None:
            raise UsageError(
                f"engine.env sets {name}, which kubellm plans from {setting.owner}",
                f"remove {name} from engine.env and set {setting.owner} in the spec instead",
            )
