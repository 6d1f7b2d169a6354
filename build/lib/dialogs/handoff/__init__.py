"""Handoff to a person: customer side (dialogs.handoff.customer) and staff side (.staff)."""
