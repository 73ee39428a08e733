"""Password policy and generation.

The policy is read from the environment variables AWS's sample rotators use, so a function
switched from a sample to rotor keeps generating passwords its database accepts. Passwords come
from the operating system's CSPRNG; GetRandomPassword is an opt-in (``PASSWORD_SOURCE=
secretsmanager``) for teams whose policy requires it, at the cost of one more API call.
"""

from __future__ import annotations

import os
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rotor.errors import ConfigurationError

# GetRandomPassword's punctuation set, so both sources draw from the same alphabet.
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
# AWS's samples exclude these by default: they break connection strings and shell quoting.
DEFAULT_EXCLUDED = "/@\"'\\"
DEFAULT_LENGTH = 32
MAX_LENGTH = 4096


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ConfigurationError(f"{name} must be 'true' or 'false'; set it to one of those.")


@dataclass(frozen=True)
class PasswordPolicy:
    length: int = DEFAULT_LENGTH
    exclude_characters: str = DEFAULT_EXCLUDED
    exclude_numbers: bool = False
    exclude_punctuation: bool = False
    exclude_uppercase: bool = False
    exclude_lowercase: bool = False
    require_each_included_type: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PasswordPolicy:
        env = os.environ if env is None else env
        raw_length = env.get("PASSWORD_LENGTH", "").strip() or str(DEFAULT_LENGTH)
        if not raw_length.isdigit():
            raise ConfigurationError("PASSWORD_LENGTH must be a whole number, e.g. 32.")
        policy = cls(
            length=int(raw_length),
            exclude_characters=env.get("EXCLUDE_CHARACTERS", DEFAULT_EXCLUDED),
            exclude_numbers=_flag(env, "EXCLUDE_NUMBERS", False),
            exclude_punctuation=_flag(env, "EXCLUDE_PUNCTUATION", False),
            exclude_uppercase=_flag(env, "EXCLUDE_UPPERCASE", False),
            exclude_lowercase=_flag(env, "EXCLUDE_LOWERCASE", False),
            require_each_included_type=_flag(env, "REQUIRE_EACH_INCLUDED_TYPE", True),
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
