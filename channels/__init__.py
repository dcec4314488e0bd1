"""Resident-facing channels (LINE, web chat): verify, parse, hand to the engine, render."""
