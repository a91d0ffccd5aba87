"""Identity: platform accounts → users by verified email, one-time sign-in states, the email allowlist."""
