"""The MariaDB fixtures live in tests/conftest.py: other test packages use them too."""
