"""Configuration of the p2p subsystem."""

from __future__ import annotations

from pydantic import Field

from swarmd.configbase import Section


class P2PConfig(Section):
    enabled: bool = Field(True, description="Run this subsystem.")
