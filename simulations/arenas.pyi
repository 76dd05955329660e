def use_huge_pages() -> None:
    """From now on, make pymalloc's arenas in transparent huge pages (idempotent; see arenas.c)."""
