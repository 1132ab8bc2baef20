import { Option, type Command } from 'commander';
import type { ClusterOptions } from '../cluster/cluster-options.js';
import { PeerwayError } from '../errors.js';
import { positiveIntArg } from './common.js';

/** `peerway server` options for joining a cluster of servers over NATS (README, "Scaling out"). */
export interface ClusterCliOptions {
  cluster?: string;
  name?: string;
  clusterUser?: string;
  clusterPassword?: string;
  clusterToken?: string;
  clusterCreds?: string;
  clusterTlsCa?: string;
  clusterTlsCert?: string;
  clusterTlsKey?: string;
  clusterHeartbeat?: number;
  clusterExpire?: number;
}

export function addClusterOptions(cmd: Command): void {
  cmd
    .addOption(new Option('--cluster <urls>', 'join a cluster of Peerway servers through these NATS servers, comma-separated: nats://HOST:PORT[,nats://HOST:PORT…] (needs --name)').env('PEERWAY_CLUSTER'))
    .addOption(new Option('--name <name>', "this server's name in the cluster, unique there (letters, digits, _ and -)").env('PEERWAY_NAME'))
    .addOption(new Option('--cluster-user <user>', 'NATS user name for the cluster link').env('PEERWAY_CLUSTER_USER'))
    .addOption(new Option('--cluster-password <password>', 'NATS password for the cluster link (prefer the environment variable)').env('PEERWAY_CLUSTER_PASSWORD'))
    .addOption(new Option('--cluster-token <token>', 'NATS token for the cluster link (prefer the environment variable)').env('PEERWAY_CLUSTER_TOKEN'))
    .addOption(new Option('--cluster-creds <file>', 'NATS credentials file (JWT and NKey seed) for the cluster link').env('PEERWAY_CLUSTER_CREDS'))
    .addOption(new Option('--cluster-tls-ca <file>', 'CA certificate that signed the NATS servers\' certificates').env('PEERWAY_CLUSTER_TLS_CA'))
    .addOption(new Option('--cluster-tls-cert <file>', 'client certificate for NATS (mutual TLS), with --cluster-tls-key').env('PEERWAY_CLUSTER_TLS_CERT'))
    .addOption(new Option('--cluster-tls-key <file>', 'private key of --cluster-tls-cert').env('PEERWAY_CLUSTER_TLS_KEY'))
    .addOption(new Option('--cluster-heartbeat <ms>', 'how often this server tells the cluster it is alive (default 1000)').argParser(positiveIntArg).env('PEERWAY_CLUSTER_HEARTBEAT'))
    .addOption(new Option('--cluster-expire <ms>', "how long a silent server's services stay listed before they are taken out (default 4 heartbeats)").argParser(positiveIntArg).env('PEERWAY_CLUSTER_EXPIRE'));
}

/** The cluster options given, or undefined without --cluster; USAGE when they do not fit together. */
export function clusterOptionsFrom(opts: ClusterCliOptions): ClusterOptions | undefined {
  const others = (['clusterUser', 'clusterPassword', 'clusterToken', 'clusterCreds', 'clusterTlsCa', 'clusterTlsCert', 'clusterTlsKey'] as const).filter((k) => opts[k] !== undefined);
  if (!opts.cluster) {
    if (others.length > 0) throw new PeerwayError('USAGE', `--${kebab(others[0])} is for the cluster link: give --cluster nats://HOST:PORT --name NAME too`);
    return undefined;
  }
  if (!opts.name) throw new PeerwayError('USAGE', '--cluster needs --name NAME: the name of this server in the cluster, unique there');
  const servers = opts.cluster.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of servers) {
    if (!/^(nats|tls):\/\/[^/\s]+:\d{1,5}$/.test(s)) throw new PeerwayError('USAGE', `--cluster ${s}: expected nats://HOST:PORT (or tls://HOST:PORT), comma-separated`);
  }
  if (opts.clusterPassword !== undefined && !opts.clusterUser) throw new PeerwayError('USAGE', '--cluster-password needs --cluster-user');
  if ((opts.clusterTlsCert === undefined) !== (opts.clusterTlsKey === undefined)) throw new PeerwayError('USAGE', '--cluster-tls-cert and --cluster-tls-key go together');
  const tls = opts.clusterTlsCa || opts.clusterTlsCert ? { ...(opts.clusterTlsCa ? { caFile: opts.clusterTlsCa } : {}), ...(opts.clusterTlsCert ? { certFile: opts.clusterTlsCert, keyFile: opts.clusterTlsKey! } : {}) } : undefined;
  return {
    servers,
    name: opts.name,
    ...(opts.clusterUser ? { user: opts.clusterUser } : {}),
    ...(opts.clusterPassword !== undefined ? { password: opts.clusterPassword } : {}),
    ...(opts.clusterToken ? { token: opts.clusterToken } : {}),
    ...(opts.clusterCreds ? { credsFile: opts.clusterCreds } : {}),
    ...(tls ? { tls } : {}),
    ...(opts.clusterHeartbeat ? { heartbeatMs: opts.clusterHeartbeat } : {}),
    ...(opts.clusterExpire ? { expireMs: opts.clusterExpire } : {}),
  };
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
