"""Postal Comms domain package: shipped to Lambda as the `domain` layer, imported by every function."""
