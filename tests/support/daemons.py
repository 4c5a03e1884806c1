"""Real swarmd daemons for tests: the package's process harness (swarmd.tools.procs)."""

from swarmd.tools.procs import SWARMCTL, SWARMD, DaemonProcess, toml_value, wait_until, write_config

__all__ = ["SWARMCTL", "SWARMD", "DaemonProcess", "toml_value", "wait_until", "write_config"]
