"""Placeholder: filled in by the Album work (see boda/ai/embed.py)."""
