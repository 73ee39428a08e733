"""The fast tier: Secrets Manager and a database in memory (rotor.local.memory), the real
protocol, strategies and harness. Seconds for the whole tier; the slower tiers prove the same
against moto and real servers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from rotor.databases import AlternatingUsers, SingleUser
from rotor.local.harness import Harness
from rotor.local.memory import MemoryDatabase, MemoryEngine, MemorySecretsManager
from rotor.secrets import SecretStore


@dataclass
class World:
    """One in-memory Secrets Manager and database server, and the rotators bound to them."""

    sm: MemorySecretsManager = field(default_factory=MemorySecretsManager)
    db: MemoryDatabase = field(default_factory=MemoryDatabase)
    failing: set[str] = field(default_factory=set)  # engine calls that fail once

    def __post_init__(self) -> None:
        self.db.add("admin", "admin-password", admin=True)
        self.admin_arn = self.secret(self.login("admin", "admin-password"), name="admin")

    def engine(self) -> MemoryEngine:
        def fail_on(call: str) -> bool:
            if call in self.failing:
                self.failing.discard(call)
                return True
            return False

        return MemoryEngine(self.db, fail_on)

    def rotator(self, strategy: str = "single", store: SecretStore | None = None) -> Any:
        cls = {"single": SingleUser, "alternating": AlternatingUsers}[strategy]
        return cls(self.engine(), store=store or SecretStore(self.sm))  # type: ignore[arg-type]

    def harness(
        self, strategy: str = "single", store: SecretStore | None = None, **kwargs: Any
    ) -> Harness:
        """The harness on the raw store; the rotator on ``store`` (a faulty one, say)."""
        return Harness(self.sm, self.rotator(strategy, store).handler, **kwargs)

    def login(self, user: str, password: str, **extra: Any) -> dict[str, Any]:
        return {
            "engine": "postgres",
            "host": self.db.host,
            "port": self.db.port,
            "username": user,
            "password": password,
            "ssl": False,
            **extra,
        }

    def secret(self, value: dict[str, Any], name: str | None = None) -> str:
        name = name or f"app-{len(self.sm.calls)}-{id(value)}"
        return str(self.sm.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])

    def app(self, user: str = "app", alternating: bool = False) -> str:
        """A user with a working password and its secret's ARN."""
        self.db.add(user, f"{user}-first-password")
        extra = {"masterarn": self.admin_arn} if alternating else {}
        return self.secret(self.login(user, f"{user}-first-password", **extra))

    def works(self, arn: str, stage: str = "AWSCURRENT") -> bool:
        value = self.sm.value(arn, stage)
        return self.db.logs_in(value["username"], value["password"])


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def world_factory() -> type[World]:
    return World
