"""Server processes the farm and the tests both start: how to set them up, run them and signal them."""
