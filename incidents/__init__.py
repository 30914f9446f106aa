"""The incident domain: parsing `/incident`, naming channels, rendering the summary.

Plain data only (like alerts/ and commands/): bot/incidents/ stores, calls Slack and wires.
"""
