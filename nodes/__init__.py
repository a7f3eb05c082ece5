"""The web server node of a farm."""
