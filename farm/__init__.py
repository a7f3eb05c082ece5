"""cachefarm: a distributed cache for web server farms, and the tools to run and test one."""
