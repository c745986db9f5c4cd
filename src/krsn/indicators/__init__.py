"""Threat indicators: the deduplicated, scored store of IPs, domains, URLs, hashes and e-mails."""
