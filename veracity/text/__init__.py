"""Text models: Hugging Face helpers, MiniLM offline, text sanity checks, token heatmaps."""
