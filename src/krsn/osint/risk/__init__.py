"""Risk scores of entities."""
