"""Real swarmd daemons for tests: the package's process harness (swarmd.tools.procs)."""

from swarmd.tools.procs import SWARMCTL, SWARMD, DaemonProcess, toml_value, wait_until, write_config

# The harness's name before it was renamed apart from swarmd.daemon.Daemon; tests written
# against it keep working.
Daemon = DaemonProcess

__all__ = ["SWARMCTL", "SWARMD", "Daemon", "DaemonProcess", "toml_value", "wait_until", "write_config"]
