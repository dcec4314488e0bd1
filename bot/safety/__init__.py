"""Safety: the crisis lexicon and the per-message assessment that can only raise urgency."""
