"""OCPI commands module."""
