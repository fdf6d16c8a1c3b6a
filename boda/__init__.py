"""Boda (보다, "to see"): a self-hosted multimodal AI platform."""

__version__ = "0.1.0"
