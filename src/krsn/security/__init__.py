"""Security primitives: passwords, secrets at rest, API keys, MFA, CSRF, sessions, rate limits."""
