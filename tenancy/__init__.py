"""Orgs, projects, environments, users, memberships, roles and permissions, API keys, plans."""
