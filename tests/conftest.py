"""Shared by unit and integration tests."""

# The pricing service's modules import its generated stubs (sandbox.pricing.v1);
# importing comms_sandbox.grpc generates them if needed and puts them on sys.path.
import comms_sandbox.grpc  # noqa: F401
