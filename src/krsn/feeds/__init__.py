"""Threat sources, their feeds, and the intelligence ingested from them."""
