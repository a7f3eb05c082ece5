"""A user-space TCP fault proxy: links that forward bytes, and faults (partition, latency, reset) put on them."""
