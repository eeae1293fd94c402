"""Accounts (账号): staff users and their role grants, bearer tokens, login codes, partner API keys,
and the principal every request acts as."""
