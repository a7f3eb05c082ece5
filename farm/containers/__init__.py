"""The farm as containers: the compose project, the container engine that runs it, and the Docker SDK calls the
``farm`` commands make on it (``--engine compose``)."""
