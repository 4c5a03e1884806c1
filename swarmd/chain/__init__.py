"""On-chain participation: the SwarmCoordinator client and its submission queue."""
