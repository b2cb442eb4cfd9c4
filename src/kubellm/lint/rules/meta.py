"""LINT rules: problems with the input itself (reported by the loader, documented here)."""

from __future__ import annotations

from collections.abc import Iterator

from kubellm.lint.context import LintContext
from kubellm.lint.finding import Hit, Severity
from kubellm.lint.registry import rule


@rule(
    "LINT001",
    "yaml-invalid",
    Severity.ERROR,
    "A file is not valid YAML",
    why="A manifest that does not parse is never applied, and a chart that renders broken YAML fails at "
    "install time. The other files are still linted; documents that are valid YAML but not Kubernetes "
    "objects (no `kind`, e.g. a Helm values file) are skipped with a note instead.",
    fix="Fix the YAML syntax at the reported line (indentation, quoting, a stray tab).",
    bad="spec:\n  replicas: 1\n   selector: {}   # indentation error",
    good="spec:\n  replicas: 1\n  selector: {}",
    scope="set",
)
def yaml_invalid(ctx: LintContext) -> Iterator[Hit]:
    """Reported by the loader (file and line of the syntax error); nothing to check here."""
    return iter(())
