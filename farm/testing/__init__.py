"""What tests of a farm need: private servers for now."""
