"""The one root error of kubellm and its families.

Every error a user can cause says two things: what went wrong and what to do next. The CLI prints
``error: <what> — <fix>`` and exits 2 for usage errors and 1 for failures; it never shows a traceback
unless ``--debug`` is given.
"""

from __future__ import annotations


class KubellmError(Exception):
    """Root of every error kubellm raises on purpose.

    ``what`` says what failed, ``fix`` what the user can do about it. ``exit_code`` is what the CLI
    exits with: 2 for bad input (usage), 1 for failures of the work itself.
    """

    exit_code = 1

    def __init__(self, what: str, fix: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.what} — {self.fix}" if self.fix else self.what


class UsageError(KubellmError):
    """The input (a flag, a spec, a file) is wrong; nothing was attempted."""

    exit_code = 2


class SpecError(UsageError):
    """An LLMService (or cluster) spec failed validation; ``what`` names the field path."""


class CatalogError(UsageError):
    """A model or GPU name is unknown, or a model config.json cannot be understood."""


class PlanError(UsageError):
    """The planner was asked for something impossible (e.g. a TP that does not divide the heads)."""
