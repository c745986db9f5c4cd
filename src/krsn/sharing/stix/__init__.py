"""STIX 2.1: the object store, bundle import and export."""
