"""AI providers behind small protocols; apps depend on these, never on a runtime."""
