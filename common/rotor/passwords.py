"""Password policy and generation.

The policy comes from the environment variables AWS's sample rotators use (read by
:mod:`rotor.settings`), so a function switched from a sample to rotor keeps generating passwords
its database accepts. Passwords come
from the operating system's CSPRNG; GetRandomPassword is an opt-in (``PASSWORD_SOURCE=
secretsmanager``) for teams whose policy requires it, at the cost of one more API call.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

from rotor import settings
from rotor.errors import ConfigurationError

# GetRandomPassword's punctuation set, so both sources draw from the same alphabet.
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
# AWS's samples exclude these by default: they break connection strings and shell quoting.
DEFAULT_EXCLUDED = settings.Settings.exclude_characters.default
DEFAULT_LENGTH = settings.Settings.password_length.default
MAX_LENGTH = settings.MAX_PASSWORD_LENGTH
_SETTING = {"length": "password_length"}  # policy fields named unlike their setting


@dataclass(frozen=True)
class PasswordPolicy:
    """What a generated password may hold: the AWS samples' variables (``from_env``)."""

    length: int = DEFAULT_LENGTH
    exclude_characters: str = DEFAULT_EXCLUDED
    exclude_numbers: bool = settings.Settings.exclude_numbers.default
    exclude_punctuation: bool = settings.Settings.exclude_punctuation.default
    exclude_uppercase: bool = settings.Settings.exclude_uppercase.default
    exclude_lowercase: bool = settings.Settings.exclude_lowercase.default
    require_each_included_type: bool = settings.Settings.require_each_included_type.default

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PasswordPolicy:
        """The function's policy (``env``: another environment than this process's)."""
        given = settings.current() if env is None else settings.Settings(env)
        # Each field is the setting of the same name (``length``: PASSWORD_LENGTH).
        policy = cls(
            **{
                field.name: getattr(given, _SETTING.get(field.name, field.name))
                for field in fields(cls)
            }
        )
        policy.classes()  # validate now, not in the middle of a rotation
        return policy

    def classes(self) -> list[str]:
        """The character classes in use, each already stripped of excluded characters."""
        wanted = [
            (string.ascii_lowercase, self.exclude_lowercase),
            (string.ascii_uppercase, self.exclude_uppercase),
            (string.digits, self.exclude_numbers),
            (PUNCTUATION, self.exclude_punctuation),
        ]
        excluded = set(self.exclude_characters)
        kept = ("".join(c for c in chars if c not in excluded) for chars, off in wanted if not off)
        classes = [chars for chars in kept if chars]
        if not classes:
            raise ConfigurationError(
                "The password policy excludes every character; allow at least one class."
            )
        minimum = len(classes) if self.require_each_included_type else 1
        if not minimum <= self.length <= MAX_LENGTH:
            raise ConfigurationError(
                f"PASSWORD_LENGTH must be between {minimum} and {MAX_LENGTH} for this policy."
            )
        return classes


def generate(policy: PasswordPolicy) -> str:
    """A password from the runtime's CSPRNG (``secrets``) following ``policy``."""
    classes = policy.classes()
    alphabet = "".join(classes)
    chars = [secrets.choice(c) for c in classes] if policy.require_each_included_type else []
    chars += [secrets.choice(alphabet) for _ in range(policy.length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def from_secrets_manager(policy: PasswordPolicy, get_random_password: Callable[..., str]) -> str:
    """GetRandomPassword with the same policy (``get_random_password`` is the API call)."""
    return get_random_password(
        PasswordLength=policy.length,
        ExcludeCharacters=policy.exclude_characters,
        ExcludeNumbers=policy.exclude_numbers,
        ExcludePunctuation=policy.exclude_punctuation,
        ExcludeUppercase=policy.exclude_uppercase,
        ExcludeLowercase=policy.exclude_lowercase,
        IncludeSpace=False,
        RequireEachIncludedType=policy.require_each_included_type,
    )
