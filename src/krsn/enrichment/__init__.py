"""Enrichment providers and the context they add to indicators and entities."""
