"""User dashboards and their widgets."""
