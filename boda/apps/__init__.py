"""The apps: vertical slices on the core, each declared once by its `spec` (see boda.core.apps).

They import core and ai, never each other.
"""
