"""swarmctl: the operator's command line for a swarmd daemon (a thin gRPC client)."""
