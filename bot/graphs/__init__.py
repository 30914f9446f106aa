"""Graphs of alert expressions in their threads."""
