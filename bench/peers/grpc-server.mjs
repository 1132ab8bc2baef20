// gRPC-js unary echo server: the outside reference for call round trips. The service is defined in code
// (no .proto, no proto-loader): one unary method whose request and response are raw bytes, so gRPC does
// no protobuf work and the comparison is about the RPC stack (HTTP/2 framing, metadata, promises).
// Prints `ready <port>`.
import grpc from '@grpc/grpc-js';
import { exitWithParent } from './framing.mjs';

exitWithParent();
const identity = (b) => b;
// Mirrored in src/bench/grpc-client.ts: same path and identity (de)serializers.
const ECHO_SERVICE = {
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

const server = new grpc.Server();
server.addService(ECHO_SERVICE, { echo: (call, callback) => callback(null, call.request) });
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`grpc-server: ${err.message}`);
    process.exit(1);
  }
  console.log(`ready ${port}`);
});
