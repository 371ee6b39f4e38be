"""Layer 1, files: atomic results folders, every file format declared once (writer + reader)."""
