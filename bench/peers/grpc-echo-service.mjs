// The gRPC echo service of the bench, for both ends: grpc-server.mjs (a plain baseline peer, so plain
// JavaScript here) and bench/grpc-client.ts (types in grpc-echo-service.d.mts). Defined in code with
// identity (de)serializers, no .proto and no protobuf, so the comparison is about the RPC stack (HTTP/2
// framing, metadata, promises).
const identity = (b) => b;

export const ECHO_SERVICE = {
  echo: {
    path: '/peerway.bench.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
