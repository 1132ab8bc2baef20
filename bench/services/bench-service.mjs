// The implementation shared by every bench service (BenchDirect, BenchRouted, BenchLocal, BenchSsl). Each
// service's own .mjs calls makeBenchService(): one runner may host several of them, and each needs its own
// `service` handle, so state lives in a closure rather than in this module.
import { setImmediate as turn } from 'node:timers/promises';

/** Events carry this many payload bytes, as the call payload (64 bytes). */
const EVENT_PAYLOAD = Buffer.alloc(64, 0x5a);

export function makeBenchService() {
  let service;
  return {
    methods: {
      /** The round-trip subject: returns its 64-byte argument. */
      echo: ({ data }) => data,
      /**
       * Emits `count` tick events, `batch` per event-loop turn (as fast as the service can while still
       * serving its connections), then returns how many it emitted.
       */
      async burst({ count, batch }) {
        for (let seq = 1; seq <= count; seq++) {
          service.emit('tick', { seq, data: EVENT_PAYLOAD });
          if (seq % batch === 0) await turn();
        }
        return count;
      },
      /** Sets runtime data `counter` to from+1 … from+count, `batch` updates per turn; returns count. */
      async publish({ from, count, batch }) {
        for (let i = 1; i <= count; i++) {
          service.set('counter', from + i);
          if (i % batch === 0) await turn();
        }
        return count;
      },
    },
    start(api) {
      service = api;
    },
  };
}
