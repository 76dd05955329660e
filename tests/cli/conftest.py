from kv_harness import node, table  # noqa: F401 - fixtures
