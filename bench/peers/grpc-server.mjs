// gRPC-js unary echo server: the outside reference for call round trips (service: grpc-echo-service.mjs).
// Prints `ready <port>`.
import grpc from '@grpc/grpc-js';
import { exitWithParent } from './framing.mjs';
// The service definition both ends share (bench/grpc-client.ts imports it too).
import { ECHO_SERVICE } from './grpc-echo-service.mjs';

exitWithParent();
const server = new grpc.Server();
server.addService(ECHO_SERVICE, { echo: (call, callback) => callback(null, call.request) });
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`grpc-server: ${err.message}`);
    process.exit(1);
  }
  console.log(`ready ${port}`);
});
