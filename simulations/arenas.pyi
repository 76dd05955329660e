def use_huge_pages() -> None:
    """From now on, keep the interpreter's memory in transparent huge pages (idempotent; see arenas.c)."""
