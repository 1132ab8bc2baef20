import type { BearerAddress } from '../bearer/bearer.js';
import { connect, type PeerwayClient } from '../client/client.js';

/** Connects, runs `work`, and always closes the connection afterwards. */
export async function withClient<T>(server: BearerAddress, timeoutMs: number, work: (client: PeerwayClient) => Promise<T>): Promise<T> {
  const client = await connect(server, { connectTimeoutMs: timeoutMs, timeoutMs, agent: `peerway-cli/${process.pid}` });
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}
