"""Running rotations on this machine: throwaway servers, a test CA and the harness.

Used by the ``rotor`` CLI and by the test suite; never imported by a deployed handler.
"""
