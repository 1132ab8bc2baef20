import type { CloseInfo, ConnectionHandlers } from './bearer.js';

/**
 * Delivery to a connection's handlers, holding back what arrives before `start()` attaches them.
 * Every bearer needs this to keep the MessageConnection promise that the first message (or an early
 * close) is never lost between handing a connection out and the caller starting it.
 */
export class HeldDelivery {
  private handlers: ConnectionHandlers | undefined;
  private held: Buffer[] = [];
  private heldClose: CloseInfo | undefined;

  /** Attaches the handlers and delivers what was held, in order. */
  start(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
    const held = this.held;
    this.held = [];
    for (const m of held) handlers.message(m);
    if (this.heldClose) handlers.close(this.heldClose);
  }

  message(payload: Buffer): void {
    if (this.handlers) this.handlers.message(payload);
    else this.held.push(payload);
  }

  close(info: CloseInfo): void {
    if (this.handlers) this.handlers.close(info);
    else this.heldClose = info;
  }

  drain(): void {
    this.handlers?.drain?.();
  }
}
