"""rotor's version, in one place: the package metadata (pyproject.toml reads it), ``rotor
--version``, every log line of a rotation (``rotor_version``), the template's layer and its
Serverless Application Repository entry, and the release directory all take it from here.

Standard library only and nothing imported: the handlers import it at cold start.
"""

__version__ = "0.2.0"
