"""The engine: input normalisation, targets, chunked evaluation, hooks, progress, checks."""
