"""The key-value capability: the local API over the replica (`service`), its SQLite copy (`store`), the
watches (`changefeed`) and configuration as a tree of dotted paths on top (`config_tree`)."""
