"""KRSN-RT2I: threat intelligence and OSINT investigation in one platform."""

__version__ = "0.1.0"
