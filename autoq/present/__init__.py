"""Presentation: tables and plots of results (formatting only, no decisions)."""
