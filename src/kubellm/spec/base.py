"""The base every kubellm data contract derives from: strict, described, frozen-by-convention."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown fields and validates defaults and assignments.

    Every field of a subclass carries a ``description`` (a test checks it), so the JSON Schema that
    ``kubellm schema`` prints documents the whole contract.
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        populate_by_name=True,
        use_attribute_docstrings=False,
    )


def pinned_image(value: str | None, example: str) -> str | None:
    """An image reference pinned by tag (not 'latest') or digest; unpinned ones are refused with an example."""
    if value is None or "@sha256:" in value:
        return value
    last = value.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        raise ValueError(f"image {value!r} is not pinned: add a tag (e.g. '{example}') or a digest")
    return value
