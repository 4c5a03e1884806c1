"""Base class for configuration sections: strict, documented, immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section. Unknown keys are errors; every field carries a description."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
