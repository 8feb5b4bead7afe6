"""Accounts, sessions, API tokens, LDAP login and the audit log."""
