"""Change a few values of a YAML document and keep everything else: comments, order, quoting, blank lines.

ruamel.yaml's round trip does the keeping; this module only walks to each key (creating missing
sections at the end of their parent) and sets the value. Used by ``kubellm tune`` to write a knee into a
hand-written, commented spec.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from kubellm.errors import SpecError

Edit = tuple[Sequence[str], Any]


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line the user wrote
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def edit_yaml(text: str, edits: Iterable[Edit], source: str = "spec") -> str:
    """``text`` with each ``(path, value)`` of ``edits`` set; all else as it was."""
    yaml = _yaml()
    try:
        doc = yaml.load(text)
    except YAMLError as exc:
        raise SpecError(
            f"{source}: not valid YAML ({exc})", "fix the file, then run the command again"
        ) from None
    if not isinstance(doc, CommentedMap):
        raise SpecError(f"{source}: not a YAML mapping", "give an LLMService spec")
    for path, value in edits:
        node = doc
        for key in path[:-1]:
            child = node.get(key)
            if child is None:
                child = CommentedMap()
                node[key] = child
            if not isinstance(child, CommentedMap):
                raise SpecError(f"{source}: {'.'.join(path[:-1])} is not a mapping", f"make {key} a mapping")
            node = child
        node[path[-1]] = value
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()
