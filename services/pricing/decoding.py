"""Requests decoded in the handler, so bytes that are not the request message get INVALID_ARGUMENT.

grpcio parses a request before the servicer sees it and, when that fails,
answers INTERNAL ("Exception deserializing request!"): the code gRPC's own
table gives the libraries for "Error parsing request proto"
(https://github.com/grpc/grpc/blob/master/doc/statuscodes.md), since a library
cannot tell a broken client from a broken server. This service can: the bytes
came from the client, so the fault is the client's. Each method is registered
with no deserializer (the handler receives the raw bytes) and parses them
itself, aborting INVALID_ARGUMENT with the parser's reason: "Wire format was
corrupt" for garbage, "String field had bad UTF-8" for a proto3 string that
is not UTF-8. The call is then also logged and counted like any other.

What never reaches a handler stays grpc core's (scenarios/grpc/README.md,
"Bytes that are not a request"): a message flagged compressed with no
grpc-encoding (INTERNAL), and a request stream that ends inside a message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf import descriptor, message
from google.protobuf.message_factory import GetMessageClass

# (client streams?, server streams?) -> the grpc factory for that kind of method
_HANDLER_FOR = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def add_servicer(
    servicer: object, service: descriptor.ServiceDescriptor, server: grpc.Server
) -> None:
    """What the generated add_<Service>Servicer_to_server does, with decoding in the handler."""
    handlers = {method.name: _handler(servicer, method) for method in service.methods}
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )
    server.add_registered_method_handlers(service.full_name, handlers)


def decode(raw: bytes, message_class: type[message.Message], context: Any) -> message.Message:
    """The request parsed from `raw`, or the call ended INVALID_ARGUMENT saying why not."""
    try:
        return message_class.FromString(raw)
    except message.DecodeError as exc:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the request could not be decoded: {exc}")
        raise  # abort() raises; this line only tells type checkers so


def _handler(servicer: object, method: descriptor.MethodDescriptor) -> grpc.RpcMethodHandler:
    request_class = GetMessageClass(method.input_type)
    behaviour: Callable[..., Any] = getattr(servicer, method.name)
    if method.client_streaming:

        def call(raw_requests: Iterator[bytes], context: grpc.ServicerContext) -> Any:
            return behaviour((decode(raw, request_class, context) for raw in raw_requests), context)

    else:

        def call(raw: bytes, context: grpc.ServicerContext) -> Any:
            return behaviour(decode(raw, request_class, context), context)

    factory = _HANDLER_FOR[(method.client_streaming, method.server_streaming)]
    return factory(
        call,
        request_deserializer=None,  # the handler gets bytes
        response_serializer=GetMessageClass(method.output_type).SerializeToString,
    )
