// Implementation of bench-direct.xml (see bench-service.mjs).
import { makeBenchService } from './bench-service.mjs';

export default makeBenchService();
