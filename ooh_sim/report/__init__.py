"""Layer 3, what people read: complete results folders (files + figures) and the HTML report."""
