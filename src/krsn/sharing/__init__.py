"""Sharing and attribution: actors, campaigns, ATT&CK techniques, IOC collections, reports."""
