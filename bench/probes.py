"""Probes ``bench/coldpath.py`` runs inside a cold child (``child.py --pre probes:NAME``) to
time one part of a cold start on its own. Imported in the handler's environment (the rotor
layer), after the handler."""


def sm_call() -> None:
    """One cheap Secrets Manager call on rotor's client (the first pays lazy set-up)."""
    from rotor import secrets

    secrets.client().get_random_password(PasswordLength=16)


def tracer() -> None:
    """Create the Powertools Tracer as rotor's first traced step does (X-Ray SDK import and
    botocore patching), when tracing is active."""
    from rotor.observability import traced

    with traced("bench"):
        pass
