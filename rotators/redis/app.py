"""Redis / Valkey ACL users: an ACL admin adds the new password beside the current one (as a
SHA-256 hash) and drops the old one once the rotation finishes, or keeps it until the next."""

from rotor.databases.dual import DualPasswords
from rotor.databases.redis import Redis

lambda_handler = DualPasswords(Redis(), name="redis").handler
