// Implementation of examples/climate.xml, loaded by `peerway runner examples/climate.xml`.
// The default export follows Peerway's implementation contract: { methods, start, stop }.

const targets = new Map(); // zone → target temperature
let service;
let timer;

export default {
  methods: {
    setTemperature({ zone, celsius }) {
      if (celsius < 5 || celsius > 40) return false; // outside what the hardware accepts
      targets.set(zone, celsius);
      return true;
    },
    getTemperature({ zone }) {
      return targets.get(zone) ?? service.get('cabin.temperature');
    },
    reset() {
      targets.clear();
      service.set('cabin', { temperature: 21, fan: 2 });
      service.set('status', 'ok');
    },
  },

  start(api) {
    service = api;
    // A tiny simulation: the cabin drifts towards zone 1's target and the fan follows the gap.
    timer = setInterval(() => {
      const current = service.get('cabin.temperature');
      const target = targets.get(1) ?? current;
      if (Math.abs(target - current) < 0.05) return;
      const next = Math.round((current + (target - current) * 0.5) * 10) / 10;
      service.set('cabin.temperature', next);
      const fan = Math.min(5, Math.max(1, Math.round(Math.abs(target - next))));
      if (fan !== service.get('cabin.fan')) {
        service.set('cabin.fan', fan);
        service.emit('fanChanged', { level: fan });
      }
      const status = next > 30 ? 'hot' : 'ok';
      if (status !== service.get('status')) service.set('status', status);
      if (status === 'hot') service.emit('overheat', { celsius: next });
    }, 500);
  },

  stop() {
    clearInterval(timer);
  },
};
