"""Service processes the node runs and supervises (`micro run`, `status`, `logs`, `kill`)."""
