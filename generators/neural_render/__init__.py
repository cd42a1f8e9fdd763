"""neural-render (registration pending its shipped weights)."""
