import net from 'node:net';
import type { Bearer, BearerAddress, BearerOptions, ConnectOptions, Listener, MessageConnection } from './bearer.js';
import { SlabReader } from './slab-reader.js';
import { StreamConnection } from './stream-connection.js';
import { connectSocket, listenSocketServer } from './socket-helpers.js';

/** `connect.bearer.tcp`: length-prefixed frames over TCP, Nagle off. */
export const tcpBearer: Bearer = {
  id: 'connect.bearer.tcp',
  schemes: ['tcp'],
  reliable: true,

  /** A TLS server closes on a plain client's first frame without a word: the likeliest cause of silence. */
  explainSilentClose(address: BearerAddress): string {
    const hostPort = `${formatHost(address.host ?? '127.0.0.1')}:${address.port ?? 2002}`;
    return (
      'the server closed the connection during the hello without answering; ' +
      `the port may be a connect.bearer.ssl (TLS) port: connect with ssl://${hostPort} and pass the CA that signed its certificate with --ca FILE`
    );
  },

  async listen(address: BearerAddress, onConnection: (c: MessageConnection) => void, options: BearerOptions = {}): Promise<Listener> {
    const server = net.createServer({ noDelay: true });
    return listenSocketServer(server, { port: address.port ?? 0, host: address.host ?? '127.0.0.1' }, (socket) => {
      onConnection(new StreamConnection(this.id, socket, `${socket.remoteAddress}:${socket.remotePort}`, options.maxMessageBytes));
    }, (bound) => ({ bearer: this.id, host: bound.host, port: bound.port }));
  },

  async connect(address: BearerAddress, options: ConnectOptions = {}): Promise<MessageConnection> {
    const host = address.host ?? '127.0.0.1';
    const port = address.port ?? 2002;
    const reader = new SlabReader();
    const socket = await connectSocket(() => net.connect({ host, port, noDelay: true, onread: reader.onread }), 'connect', `tcp://${formatHost(host)}:${port}`, options);
    return new StreamConnection(this.id, socket, `${host}:${port}`, options.maxMessageBytes, true, reader);
  },
};

export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
