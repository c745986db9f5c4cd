"""OSINT sources: where collections collect from, with their rate limit, credentials
(stored encrypted, never shown) and reliability."""
