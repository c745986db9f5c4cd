"""Detection: correlation rules, alerts, notifications, incidents, hunting and watchlists."""
