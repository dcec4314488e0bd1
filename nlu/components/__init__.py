"""Custom Rasa components; loaded by the Rasa service (Python 3.10) only."""
