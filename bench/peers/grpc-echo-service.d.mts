/** Types of grpc-echo-service.mjs, the gRPC echo service both ends of the gRPC reference share. */
export declare const ECHO_SERVICE: {
  readonly echo: {
    readonly path: '/peerway.bench.Echo/Echo';
    readonly requestStream: false;
    readonly responseStream: false;
    readonly requestSerialize: (b: Buffer) => Buffer;
    readonly requestDeserialize: (b: Buffer) => Buffer;
    readonly responseSerialize: (b: Buffer) => Buffer;
    readonly responseDeserialize: (b: Buffer) => Buffer;
  };
};
