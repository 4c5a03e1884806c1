"""Default locations, importable without heavy dependencies (swarmctl uses them too)."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """systemd's StateDirectory, else /var/lib/swarmd for root, else the XDG data dir."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    if os.geteuid() == 0:
        return Path("/var/lib/swarmd")
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "swarmd"


SOCKET_NAME = "swarmd.sock"
