"""Process-wide foundations: typed configuration and privacy-preserving logging."""
