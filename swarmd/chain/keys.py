"""The chain account's private key: a 0600 hex key file, or a keystore with a password file.

The key never leaves this module as text: callers get an ``eth_account``
LocalAccount (whose repr shows only the address) and every error names the
file, never its content. Errors from the libraries that parse keys are
replaced, not chained, since their messages could quote input.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from swarmd.errors import SwarmdError

_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")


class KeyFileError(SwarmdError):
    """A key, keystore or password file is missing, too open or malformed; names the file."""


def check_private_file(path: Path, what: str) -> None:
    """Refuse a missing file, a non-file, or one that the group or others may read."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeyFileError(f"{what} {path} does not exist") from None
    except PermissionError:
        raise KeyFileError(f"{what} {path} is not readable (permission denied)") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"{what} {path} is not a regular file")
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"{what} {path} is readable by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run: chmod 600 {path}"
        )


def _read(path: Path, what: str) -> str:
    check_private_file(path, what)
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        raise KeyFileError(f"{what} {path} cannot be read as text") from None


def parse_hex_key(text: str, path: Path) -> bytes:
    text = text.strip()
    if not _HEX_KEY.fullmatch(text):
        raise KeyFileError(f"key file {path} must hold one private key as 64 hex digits (optionally 0x-prefixed)")
    return bytes.fromhex(text.removeprefix("0x"))


def check_key_file(path: Path) -> None:
    """What start-up checks of a hex key file: present, private, well-formed."""
    parse_hex_key(_read(path, "key file"), path)


def check_keystore(keystore: Path, password: Path) -> None:
    """Present, private, and shaped like a keystore; decryption is left to start-up (scrypt is slow)."""
    text = _read(keystore, "keystore file")
    _read(password, "password file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise KeyFileError(f"keystore file {keystore} is not JSON") from None
    if not isinstance(data, dict) or not ({"crypto", "Crypto"} & data.keys()):
        raise KeyFileError(f"keystore file {keystore} is not an Ethereum keystore (no 'crypto' section)")


def load_key_file(path: Path) -> LocalAccount:
    key = parse_hex_key(_read(path, "key file"), path)
    try:
        return Account.from_key(key)
    except Exception:  # noqa: BLE001 - the library's message may quote the key
        raise KeyFileError(f"key file {path} does not hold a valid secp256k1 private key") from None


def load_keystore(keystore: Path, password_file: Path) -> LocalAccount:
    """Decrypt a keystore (about a second of scrypt; run it off the event loop)."""
    check_keystore(keystore, password_file)
    password = _read(password_file, "password file").rstrip("\r\n")
    try:
        key = Account.decrypt(json.loads(keystore.read_text()), password)
    except ValueError:
        raise KeyFileError(
            f"cannot decrypt keystore file {keystore} with the password in {password_file}"
        ) from None
    return Account.from_key(key)


def write_key_file(path: Path, key: bytes) -> None:
    """Write a hex key file with mode 0600 from the start (never briefly readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (key.hex() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
