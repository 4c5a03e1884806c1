"""Configuration of the trainer subsystem."""

from __future__ import annotations

from pydantic import Field

from swarmd.configbase import Section


class TrainerConfig(Section):
    enabled: bool = Field(True, description="Run this subsystem.")
