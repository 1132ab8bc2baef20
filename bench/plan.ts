import type { LatencyPlan } from './measure.js';

/**
 * How much work each scenario does. The full plan is sized to finish in a few minutes on 2 cores with
 * stable medians; the quick plan only proves that every scenario runs end to end (the test suite runs it).
 */
export interface Plan {
  quick: boolean;
  rounds: number;
  /** Sequential round trips (one call in flight). */
  rtt: LatencyPlan;
  pipelined: { inFlight: number; calls: number; maxMs: number; warmupRounds: number };
  /** Payload bytes of calls and events. */
  payloadBytes: number;
  udp: { count: number; batch: number; warmupRounds: number };
  fanout: { sizes: { subscribers: number; updates: number }[]; batch: number; warmupRounds: number };
  codec: { ops: number; maxMs: number };
  sessionStart: LatencyPlan;
  scale: { clients: number; concurrency: number; updates: number };
  serverCpu: { calls: number; inFlight: number; rounds: number };
}

/** The full or quick plan; `rounds` overrides the number of measured rounds everywhere. */
export function makePlan(quick: boolean, rounds?: number): Plan {
  const r = rounds ?? (quick ? 1 : 5);
  if (quick) {
    return {
      quick,
      rounds: r,
      rtt: { warmup: 50, rounds: r, perRound: 200, maxRoundMs: 300 },
      pipelined: { inFlight: 100, calls: 1000, maxMs: 300, warmupRounds: 0 },
      payloadBytes: 64,
      udp: { count: 2000, batch: 64, warmupRounds: 0 },
      fanout: {
        sizes: [
          { subscribers: 1, updates: 500 },
          { subscribers: 10, updates: 200 },
          { subscribers: 100, updates: 20 },
        ],
        batch: 200,
        warmupRounds: 0,
      },
      codec: { ops: 5000, maxMs: 50 },
      sessionStart: { warmup: 3, rounds: r, perRound: 20, maxRoundMs: 500 },
      scale: { clients: 100, concurrency: 50, updates: 5 },
      serverCpu: { calls: 1000, inFlight: 100, rounds: 1 },
    };
  }
  return {
    quick,
    rounds: r,
    rtt: { warmup: 2000, rounds: r, perRound: 3000, maxRoundMs: 1000 },
    pipelined: { inFlight: 100, calls: 40_000, maxMs: 1500, warmupRounds: 1 },
    payloadBytes: 64,
    udp: { count: 30_000, batch: 64, warmupRounds: 1 },
    fanout: {
      sizes: [
        { subscribers: 1, updates: 30_000 },
        { subscribers: 10, updates: 8_000 },
        { subscribers: 100, updates: 1_000 },
      ],
      batch: 200,
      warmupRounds: 1,
    },
    codec: { ops: 200_000, maxMs: 400 },
    sessionStart: { warmup: 20, rounds: r, perRound: 100, maxRoundMs: 2000 },
    scale: { clients: 1000, concurrency: 50, updates: 20 },
    serverCpu: { calls: 20_000, inFlight: 100, rounds: Math.min(r, 3) },
  };
}
