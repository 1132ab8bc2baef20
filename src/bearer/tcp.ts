import net from 'node:net';
import tls from 'node:tls';
import type { Bearer, BearerAddress, BearerOptions, ConnectOptions, Listener, MessageConnection } from './bearer.js';
import { SlabReader } from './slab-reader.js';
import { StreamConnection } from './stream-connection.js';
import { connectSocket, listenSocketServer } from './socket-helpers.js';

/** `connect.bearer.tcp`: length-prefixed frames over TCP, Nagle off. */
export const tcpBearer: Bearer = {
  id: 'connect.bearer.tcp',
  schemes: ['tcp'],
  reliable: true,

  /**
   * A TLS server closes on a plain client's first frame without a word: the likeliest cause of silence.
   * Checked by opening a TLS handshake to the same port (certificates not checked: only whether TLS
   * answers); when it answers, the mix-up is certain and permanent.
   */
  async explainSilentClose(address: BearerAddress, options: ConnectOptions = {}) {
    const host = address.host ?? '127.0.0.1';
    const port = address.port ?? 2002;
    const hostPort = `${formatHost(host)}:${port}`;
    const permanent = await answersTls(host, port, Math.min(options.timeoutMs ?? TLS_PROBE_MS, TLS_PROBE_MS), options.signal);
    return {
      reason:
        'the server closed the connection during the hello without answering; ' +
        `the port ${permanent ? 'is' : 'may be'} a connect.bearer.ssl (TLS) port: connect with ssl://${hostPort} and pass the CA that signed its certificate with --ca FILE`,
      permanent,
    };
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

/** Longest wait for the TLS check of a port that closed a plain hello. */
const TLS_PROBE_MS = 2000;

/**
 * Whether `host:port` answers a TLS handshake: a server hello (the handshake completes, or the server
 * refuses us with a TLS alert, e.g. for want of a client certificate). Anything else (a close, a reset,
 * silence until `timeoutMs`) is not proof of TLS.
 */
function answersTls(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, ...(net.isIP(host) ? {} : { servername: host }) });
    const done = (isTls: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(isTls);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(/^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/.test(err.code ?? '')));
    socket.once('close', () => done(false));
  });
}
