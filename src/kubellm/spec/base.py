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
