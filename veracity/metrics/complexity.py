"""complexity metrics (filled in by issue 5)."""

__all__: list[str] = []
