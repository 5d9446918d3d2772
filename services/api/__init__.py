"""The HTTP api: FastAPI replicas behind the nginx proxy."""
