"""Static analysis: per-file summaries, the cross-file project index, and the function walker."""
