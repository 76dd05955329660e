"""Pubsub, at most once: subscriptions as node-owned state and delivery (`service`), where a message
goes (`routes`, pure, shared with the simulator), a sender's calls kept in its order (`ordering`), and
the bounded queues to local subscribers and to peers (`queues`)."""
