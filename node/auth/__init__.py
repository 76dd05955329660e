"""Auth on the node: the records in force, their check on every replica, tokens and request checks."""
