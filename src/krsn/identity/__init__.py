"""Users, organizations, API keys and the audit trail."""
