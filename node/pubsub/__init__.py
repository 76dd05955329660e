"""Pubsub, at most once: subscriptions as node-owned state and delivery (`service`), and the bounded
queues to local subscribers and to peers (`queues`)."""
