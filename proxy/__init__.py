"""A round-robin reverse proxy in front of the nodes."""
