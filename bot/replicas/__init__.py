"""Running as several replicas: claims on work, advisory locks, leadership, the Lease."""
