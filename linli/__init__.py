"""Linli (邻里): the shared core. Settings, database, clock, signing, errors, queue plumbing, CLI.

Keep this package small: it holds what every domain (orgs, accounts, volunteer, meals, points)
needs and nothing that belongs to one of them.
"""
