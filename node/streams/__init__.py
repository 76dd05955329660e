"""Event streams, at least once: publishing and replication (`service`), the durable log (`eventlog`),
partition discovery (`partitions`), where copies go and reads come from (`replicas`, pure), consumer
groups (`consumers`, `consumer_session`) and their sans-IO delivery core (`delivery`)."""
