/**
 * The gRPC echo service of the bench, for both ends: bench/peers/grpc-server.mjs (which imports the compiled
 * dist/bench/grpc-echo-service.js, as the bench runs from dist/) and src/bench/grpc-client.ts. Defined in
 * code with identity (de)serializers, no .proto and no protobuf, so the comparison is about the RPC stack
 * (HTTP/2 framing, metadata, promises).
 */
const identity = (b: Buffer): Buffer => b;

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
} as const;
