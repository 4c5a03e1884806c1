"""The gRPC control plane."""
