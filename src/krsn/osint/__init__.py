"""OSINT investigation: collections, sources, entities, their graph, risk, workflows, reports."""
