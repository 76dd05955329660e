"""The node's SQLite files as files: the checks that stop a node from starting empty over a store it had
(`check`) and the write-ahead log reader those checks use (`wal`), and the group-commit writer each
store writes its file with (`writer`)."""
