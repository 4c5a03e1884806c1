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

# Modes of what the daemon creates in its data directory, whatever the umask.
DIR_MODE = 0o750
FILE_MODE = 0o640


def make_dir(path: Path, mode: int = DIR_MODE) -> Path:
    """``mkdir -p`` whose new directories get ``mode`` exactly (mkdir's mode is masked by the umask).

    Directories that already exist keep theirs: an operator may have chosen it.
    """
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    for created in missing:
        os.chmod(created, mode)
    return path
