"""LINE channel: webhook receiver, inbox/outbox workers, sender, and local tooling."""
