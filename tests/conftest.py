"""The project's tests use the fixtures its pytest plugin gives every user (``farm.testing.plugin``): private
servers for the whole run, started on first use and stopped at the end, and running farms."""

pytest_plugins = ["pytester"]  # the plugin's own tests run pytest on users' test files
