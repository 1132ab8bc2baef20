// Implementation of examples/vehicle.xml (an in-process service).
const GEARS = ['P', 'R', 'N', 'D'];
let service;
let timer;

export default {
  methods: {
    getVin: () => 'WPW0DEMO000000001',
    setGear({ gear }) {
      if (!GEARS.includes(gear)) return false;
      service.set('gear', gear);
      service.emit('gearChanged', { gear });
      return true;
    },
  },
  start(api) {
    service = api;
    timer = setInterval(() => {
      const gear = service.get('gear');
      const speed = service.get('speed');
      const next = gear === 'D' ? Math.min(130, speed + 7.5) : Math.max(0, speed - 10);
      if (next !== speed) service.set('speed', next);
    }, 500);
  },
  stop() {
    clearInterval(timer);
  },
};
