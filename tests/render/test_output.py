"""Output writers: YAML bytes, a directory with kustomization.yaml, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from render_helpers import SERVICE_EXAMPLES, render_example

from kubellm.errors import UsageError
from kubellm.render.output import file_name, to_yaml, write_dir


def test_yaml_round_trips_to_the_same_objects() -> None:
    objects = render_example(SERVICE_EXAMPLES[0])
    assert list(yaml.safe_load_all(to_yaml(objects))) == objects


def test_scripts_are_written_as_literal_blocks() -> None:
    text = to_yaml(render_example(SERVICE_EXAMPLES[0]))
    assert "prefetch.py: |" in text


def test_directory_has_one_file_per_object_and_a_kustomization(tmp_path: Path) -> None:
    objects = render_example(SERVICE_EXAMPLES[0])
    out = tmp_path / "deploy"
    write_dir(objects, out)
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert kustomization["resources"] == [file_name(o) for o in objects]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*kustomization["resources"], "kustomization.yaml"]
    )
    assert yaml.safe_load((out / file_name(objects[0])).read_text()) == objects[0]


def test_a_non_empty_directory_is_refused_unless_forced(tmp_path: Path) -> None:
    objects = render_example(SERVICE_EXAMPLES[0])
    out = tmp_path / "deploy"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(UsageError):
        write_dir(objects, out)
    assert (out / "mine.txt").read_text() == "keep"
    write_dir(objects, out, force=True)
    assert not (out / "mine.txt").exists() and (out / "kustomization.yaml").exists()


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    objects = render_example(SERVICE_EXAMPLES[0])
    broken = [*objects, {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": object()}}]
    with pytest.raises(yaml.representer.RepresenterError):
        write_dir(broken, tmp_path / "deploy")
    assert list(tmp_path.iterdir()) == []
