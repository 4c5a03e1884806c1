"""Configuration of the web subsystem."""

from __future__ import annotations

from pydantic import Field

from swarmd.configbase import Section


class WebConfig(Section):
    enabled: bool = Field(True, description="Run this subsystem.")
