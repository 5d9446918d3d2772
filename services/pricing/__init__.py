"""The pricing gRPC service: one unary RPC, the standard health service and reflection."""
