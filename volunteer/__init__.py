"""Volunteers (志愿者): registration, filing with teams (备案) and invitations.
Activities and check-in join this package with the QR check-in work."""
