"""Helpers shared by every test package (real servers, clocks, clients)."""
