"""Read Kubernetes manifests: files, directories (recursive), stdin, multi-document YAML, List kinds.

Each object keeps the YAML node it came from, so a finding's JSON path can be turned into a line
number without a second parse. Malformed YAML never stops the run: it becomes a :class:`ParseProblem`
with the file and line, and every other file is still read.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubellm.errors import UsageError

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG_CACHE: dict[str, str] = {}


class _Loader(_BaseLoader):  # type: ignore[misc]
    """The C loader with a cache for plain-scalar tag resolution (the same keys and values repeat in
    every object of a manifest; resolving them with PyYAML's regexes was a third of the load time)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0] and len(value) < 64:
            tag = _TAG_CACHE.get(value)
            if tag is None:
                if len(_TAG_CACHE) > 50_000:
                    _TAG_CACHE.clear()
                tag = _TAG_CACHE[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(slots=True, eq=False)  # identity semantics: two equal-looking objects are still two objects
class K8sObject:
    """One Kubernetes object as read from a file, with the node to find lines by."""

    data: dict[str, Any]
    file: str
    node: yaml.Node | None = None
    doc_index: int = 0
    line: int | None = None
    _kind: str = field(default="", init=False)
    # (node, line) at each JSON path line_of has walked: findings of one object share long prefixes
    _walked: dict[str, tuple[yaml.Node, int]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._kind = str(self.data.get("kind") or "")
        if self.line is None and self.node is not None:
            self.line = self.node.start_mark.line + 1

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def api_version(self) -> str:
        return str(self.data.get("apiVersion") or "")

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "")

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")

    @property
    def annotations(self) -> dict[str, Any]:
        ann = self.metadata.get("annotations")
        return ann if isinstance(ann, dict) else {}

    @property
    def labels(self) -> dict[str, Any]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.data.get("spec")
        return spec if isinstance(spec, dict) else {}

    def line_of(self, path: str) -> int | None:
        """The line of the deepest node that exists along ``path`` ('spec.containers[0].image')."""
        node = self.node
        if node is None:
            return self.line
        line = node.start_mark.line + 1
        walked = self._walked
        prefix = ""
        for match in _PATH_TOKEN.finditer(path):
            key, index = match.groups()
            prefix = path[: match.end()]
            known = walked.get(prefix)
            if known is not None:
                node, line = known
                continue
            child: yaml.Node | None = None
            if key and isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                        child = value_node
                        line = key_node.start_mark.line + 1
                        break
            elif index and isinstance(node, yaml.SequenceNode):
                i = int(index)
                if i < len(node.value):
                    child = node.value[i]
                    line = child.start_mark.line + 1
            if child is None:
                break
            node = child
            walked[prefix] = (node, line)
        return line


@dataclass(frozen=True, slots=True)
class ParseProblem:
    """A file (or document) that could not be read as Kubernetes YAML."""

    file: str
    line: int | None
    message: str


@dataclass(slots=True)
class LoadResult:
    """Objects read from every path, and what could not be read or was skipped."""

    objects: list[K8sObject] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # documents skipped as not Kubernetes objects


def parse_text(text: str, file: str) -> LoadResult:
    """Every object in one multi-document YAML text; a syntax error ends this file only."""
    result = LoadResult(files=[file])
    loader = _Loader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            data = _construct(loader, node)
            _add_document(result, data, node, file, index)
            index += 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
        if "{{" in text:
            message += "; this looks like an unrendered Helm template: lint `helm template …` output instead"
        result.problems.append(ParseProblem(file, line, message))
    finally:
        loader.dispose()
    return result


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


def _construct(loader: Any, root: yaml.Node) -> Any:
    """Python data of one document; plain maps, lists and strings are built directly (3x faster than
    PyYAML's constructor), everything else (ints, bools, merge keys, timestamps) by PyYAML itself."""
    construct_object = loader.construct_object
    scalar, mapping, sequence = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode

    def convert(node: yaml.Node) -> Any:
        cls = type(node)
        if cls is scalar:
            return node.value if node.tag == _STR else construct_object(node, deep=True)
        if cls is mapping and node.tag == _MAP:
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if type(key_node) is scalar and key_node.tag == _STR:
                    key = key_node.value  # nearly every key: a plain string
                else:
                    if key_node.tag == _MERGE:
                        raise _NeedsPyYaml
                    key = convert(key_node)
                    if isinstance(key, list | dict):
                        raise _NeedsPyYaml
                result[key] = convert(value_node)
            return result
        if cls is sequence and node.tag == _SEQ:
            return [convert(child) for child in node.value]
        raise _NeedsPyYaml

    try:
        return convert(root)
    except (_NeedsPyYaml, RecursionError):
        return loader.construct_document(root)


class _NeedsPyYaml(Exception):
    """A construct the fast path leaves to PyYAML (merge keys, custom tags, complex keys)."""


def _add_document(result: LoadResult, data: Any, node: yaml.Node, file: str, index: int) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        line = node.start_mark.line + 1
        result.notes.append(f"skipped {file}:{line}: a {type(data).__name__}, not a Kubernetes object")
        return
    kind = str(data.get("kind") or "")
    items = data.get("items")
    if kind.endswith("List") and isinstance(items, list):
        items_node = _child(node, "items")
        for i, item in enumerate(items):
            item_node = items_node.value[i] if isinstance(items_node, yaml.SequenceNode) else None
            if isinstance(item, dict):
                result.objects.append(K8sObject(item, file, item_node, index))
        return
    if not kind:
        line = node.start_mark.line + 1
        result.notes.append(
            f"skipped {file}:{line}: no 'kind' (not a Kubernetes object; a values or config file?)"
        )
        return
    result.objects.append(K8sObject(data, file, node, index))


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                found: yaml.Node = value_node
                return found
    return None


def expand_paths(paths: Iterable[str]) -> Iterator[str]:
    """Files named directly, and every .yaml/.yml file under directories (sorted); '-' is stdin."""
    for raw in paths:
        if raw == "-":
            yield raw
            continue
        path = Path(raw)
        if path.is_dir():
            yield from (str(p) for p in sorted(path.rglob("*")) if p.suffix in YAML_SUFFIXES and p.is_file())
        elif path.is_file():
            yield str(path)
        else:
            raise UsageError(
                f"no such file or directory: {raw}", "check the path, or pass '-' to read from stdin"
            )


def load_paths(paths: Iterable[str], stdin_text: str | None = None) -> LoadResult:
    """Load every object from the given paths; unreadable files become problems, not exceptions."""
    total = LoadResult()
    for file in expand_paths(paths):
        if file == "-":
            text = stdin_text if stdin_text is not None else sys.stdin.read()
            name = "<stdin>"
        else:
            name = file
            try:
                text = Path(file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                total.problems.append(ParseProblem(file, None, f"cannot read file: {exc}"))
                total.files.append(file)
                continue
        part = parse_text(text, name)
        total.objects.extend(part.objects)
        total.problems.extend(part.problems)
        total.files.extend(part.files)
        total.notes.extend(part.notes)
    return total
