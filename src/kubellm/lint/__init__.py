"""Lint Kubernetes manifests for LLM serving on NVIDIA GPUs: GPU, fit, security, reliability, scaling
and network rules over any objects (Helm or Kustomize output, KServe, KubeAI, LeaderWorkerSet …).

``load_paths`` reads manifests, ``lint_loaded``/``lint_objects`` run the rules, ``kubellm.lint.output``
writes text, JSON, SARIF or GitHub annotations. Rules live in ``kubellm.lint.rules``.
"""

from kubellm.lint.finding import Finding, RuleMeta, Severity
from kubellm.lint.loader import K8sObject, load_paths, parse_text
from kubellm.lint.runner import LintOptions, LintResult, lint_loaded, lint_objects

__all__ = [
    "Finding",
    "K8sObject",
    "LintOptions",
    "LintResult",
    "RuleMeta",
    "Severity",
    "lint_loaded",
    "lint_objects",
    "load_paths",
    "parse_text",
]
