"""The libp2p mesh: a network actor running py-libp2p in its own trio thread."""
