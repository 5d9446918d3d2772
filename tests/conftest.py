"""Shared by unit and integration tests."""

# Before any test package's conftest imports the pricing service, whose modules
# import the generated stubs (sandbox.pricing.v1): importing comms_sandbox.grpc
# checks them and, when they are missing or stale, stops here saying to run
# `make protos` (which `make unit` and `make test` run first).
import comms_sandbox.grpc  # noqa: F401
