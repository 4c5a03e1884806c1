"""Configuration of the swarm subsystem."""

from __future__ import annotations

from pydantic import Field

from swarmd.configbase import Section


class SwarmConfig(Section):
    enabled: bool = Field(True, description="Run this subsystem.")
