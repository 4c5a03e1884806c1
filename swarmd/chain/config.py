"""Configuration of the chain subsystem."""

from __future__ import annotations

from pydantic import Field

from swarmd.configbase import Section


class ChainConfig(Section):
    enabled: bool = Field(True, description="Run this subsystem.")
