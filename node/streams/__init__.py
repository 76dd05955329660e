"""Event streams, at least once: publishing and replication (`service`), the durable log (`eventlog`),
partition discovery (`partitions`), consumer groups (`consumers`, `consumer_session`) and their sans-IO
delivery core (`delivery`)."""
