"""Passwords: the rules, hashing, temporary passwords, sign-in checks and the forced change."""
from idp.passwords.hashing import PasswordHasher
from idp.passwords.models import TemporaryPassword
from idp.passwords.rules import MAX_LENGTH, MIN_LENGTH, RULES, broken_rules

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "RULES", "PasswordHasher", "TemporaryPassword", "broken_rules"]
