"""What every database family shares: TLS, the guards, the clone-name rule and the two
rotation strategies. Engines (:mod:`.postgresql`, ...) add only their SQL and driver code."""

from rotor.databases.alternating import AlternatingUsers
from rotor.databases.engine import Engine
from rotor.databases.single import SingleUser
from rotor.databases.tls import TlsSettings

__all__ = ["AlternatingUsers", "Engine", "SingleUser", "TlsSettings"]
