"""Generated deployment files: template.yaml and the documentation's settings and rotator
tables, from two tables (deploy/rotators.py, common/rotor/settings.py). Run generate.py."""
