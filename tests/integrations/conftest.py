"""Integration tests need the tools; each module skips when its tool is missing."""
