"""Content-addressed blobs this node offers (LoRA adapters, large batches), and the
pure rules of the blob protocol.

A blob is named by the SHA-256 of its bytes, so a fetched copy is checked
end to end: a peer can refuse or fail, never substitute. Offered blobs live in
memory up to a byte cap; the oldest offers are dropped first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

CHUNK_BYTES = 64 * 1024


def blob_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_hash(text: str) -> bytes:
    """The 32 raw bytes of a hex SHA-256; ValueError naming the problem otherwise."""
    if len(text) != 64:
        raise ValueError(f"blob hash must be 64 hex characters (SHA-256), got {len(text)}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("blob hash is not hexadecimal") from None


class BlobStore:
    """Offered blobs by hash. Shared by the asyncio side (offer) and the network thread (serve)."""

    def __init__(self, max_bytes: int, max_blob_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_blob_bytes = max_blob_bytes
        self._blobs: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0

    def offer(self, data: bytes) -> str:
        if len(data) > self.max_blob_bytes:
            raise ValueError(f"blob of {len(data)} bytes exceeds p2p.blob_max_bytes ({self.max_blob_bytes})")
        if len(data) > self.max_bytes:
            raise ValueError(f"blob of {len(data)} bytes exceeds p2p.blob_store_bytes ({self.max_bytes})")
        digest = hashlib.sha256(data).digest()
        with self._lock:
            if digest in self._blobs:
                self._blobs.move_to_end(digest)
            else:
                self._blobs[digest] = bytes(data)
                self.bytes += len(data)
                while self.bytes > self.max_bytes:
                    _, old = self._blobs.popitem(last=False)
                    self.bytes -= len(old)
        return digest.hex()

    def get(self, digest: bytes) -> bytes | None:
        with self._lock:
            return self._blobs.get(digest)

    def __len__(self) -> int:
        return len(self._blobs)


def chunks(data: bytes, size: int = CHUNK_BYTES) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]
