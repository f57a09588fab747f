/**
 * A message budget for the emulator, after the service's performance guide and billing model
 * (learn.microsoft.com/azure/azure-web-pubsub/concept-performance, concept-billing-model):
 *
 * Documented, and modelled:
 * - send to small group, with the guide's 2,048-byte messages: 400 inbound messages/s (800 KBps) per
 *   unit (Unit1 400 … Unit20 8,000), with a routing ceiling of 15,000 inbound/s (30 MBps) per resource
 *   reached at 50 units ("Unit100 can't improve further"). The figures are per resource (a unit is the
 *   resource's SKU capacity, shared by every hub), so one budget covers every hub of the emulator;
 * - beyond the budget "a smooth user experience isn't guaranteed": the figures are the throughput at
 *   which 99 % of messages take under a second. Modelled as a queue that drains at the budgeted rate,
 *   so latency grows with the excess;
 * - billing counts outbound messages only, in 2 KB units (a 5 KB message is 3 billed messages); the
 *   meter reports them.
 *
 * Undocumented, and switchable:
 * - what a message of another size costs (`cost`). The guide gives its limits as bandwidth
 *   (`inboundBandwidth = inboundConnections * messageSize / sendInterval`) and says a message under
 *   1,024 bytes costs like a 1,024-byte one: `bandwidth` (the default) charges max(1 KB, size) against
 *   800 KBps per unit. Its tables also read as 400 messages/s whatever the size: `messages` charges
 *   every message the same. Which one binds at other sizes only the live service can tell;
 * - how much burst the service absorbs before latency grows (`burstMs`, default 1,000 ms of budget);
 * - what it does once the queue is a second deep (`overflow`: `queue` keeps every message, later and
 *   later; `drop` discards what would wait longer than `maxQueueDelayMs`).
 * Only group publishes are metered (client sendToGroup, raw sendToGroup mode, REST group send): the
 * traffic the guide's send-to-small-group case measures.
 */

export interface MessageBudgetOptions {
  /** Units of the resource (1, 2, 5, 10, 20, 50, 100). */
  readonly units: number;
  /** @default 400 (send to small group) */
  readonly inboundPerUnitPerSecond?: number;
  /** Routing ceiling per resource. @default 15_000 */
  readonly inboundCeilingPerSecond?: number;
  /** How a message is charged (undocumented beyond 2 KB messages; see above). @default 'bandwidth' */
  readonly cost?: 'bandwidth' | 'messages';
  /** Burst absorbed before latency grows (undocumented). @default 1000 */
  readonly burstMs?: number;
  /** What happens past `maxQueueDelayMs` (undocumented). @default 'queue' */
  readonly overflow?: 'queue' | 'drop';
  /** @default 1000 (the guide's latency bound) */
  readonly maxQueueDelayMs?: number;
}

export interface MessageMeter {
  /** Messages received by the resource (client sends, REST sends). */
  inboundMessages: number;
  /** Their cost in the guide's 2 KB messages when charged by bandwidth (max(1 KB, size) / 2 KB each). */
  inboundBandwidthCost: number;
  /** Messages the resource sent to connections. */
  outboundMessages: number;
  /** Outbound messages in billed 2 KB units. */
  billedOutboundUnits: number;
  /** Inbound messages held back by the budget, and dropped by it (`overflow: 'drop'`). */
  delayedMessages: number;
  droppedMessages: number;
  maxQueueDelayMs: number;
}

const BILLING_UNIT_BYTES = 2048;
/** The guide's message size: its messages/s figures are for messages of this size. */
const GUIDE_MESSAGE_BYTES = 2048;
/** "A small message that's less than 1,024 bytes has a performance impact that's similar to a 1,024-byte message." */
const MIN_COST_BYTES = 1024;

/** What one message of `bytes` costs, in the guide's 2 KB messages. */
export function messageCost(bytes: number, cost: MessageBudgetOptions['cost'] = 'bandwidth'): number {
  return cost === 'messages' ? 1 : Math.max(MIN_COST_BYTES, bytes) / GUIDE_MESSAGE_BYTES;
}

/** The documented inbound budget of a resource of `units` (send to small group), in 2 KB messages/s. */
export function inboundBudgetPerSecond(options: MessageBudgetOptions): number {
  const perUnit = options.inboundPerUnitPerSecond ?? 400;
  return Math.min(options.units * perUnit, options.inboundCeilingPerSecond ?? 15_000);
}

/** Billed outbound messages of one message of `bytes`: 2 KB units, at least one. */
export function billedUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / BILLING_UNIT_BYTES));
}

/**
 * The budget as a virtual-time scheduler (GCRA): each inbound message advances the resource's
 * theoretical time by its cost; a message arriving while that time is more than `burstMs` ahead waits
 * the difference. Pure arithmetic over `nowMs`, so tests can replay recorded traffic through it.
 */
export class MessageBudget {
  private readonly intervalMs: number;
  private readonly burstMs: number;
  private readonly maxQueueDelayMs: number;
  private readonly overflow: 'queue' | 'drop';
  private readonly cost: MessageBudgetOptions['cost'];
  private theoreticalMs = 0;

  constructor(options: MessageBudgetOptions) {
    this.intervalMs = 1000 / inboundBudgetPerSecond(options);
    this.burstMs = options.burstMs ?? 1000;
    this.maxQueueDelayMs = options.maxQueueDelayMs ?? 1000;
    this.overflow = options.overflow ?? 'queue';
    this.cost = options.cost ?? 'bandwidth';
  }

  /** The delay (ms) before a message of `bytes` arriving at `nowMs` is routed, or 'drop'. */
  admit(nowMs: number, bytes: number): number | 'drop' {
    const start = Math.max(this.theoreticalMs, nowMs);
    const delayMs = Math.max(0, start - nowMs - this.burstMs);
    if (delayMs > this.maxQueueDelayMs && this.overflow === 'drop') return 'drop';
    this.theoreticalMs = start + this.intervalMs * messageCost(bytes, this.cost);
    return delayMs;
  }
}

/** The budget and the meter of one emulated resource, around its group fan-out. */
export class BudgetGate {
  readonly meter: MessageMeter = { inboundMessages: 0, inboundBandwidthCost: 0, outboundMessages: 0, billedOutboundUnits: 0, delayedMessages: 0, droppedMessages: 0, maxQueueDelayMs: 0 };
  private readonly budget: MessageBudget | undefined;

  constructor(
    options: MessageBudgetOptions | undefined,
    /** Sees every inbound group message as it arrives (to record traffic). */
    private readonly observe?: (group: string, bytes: number, atMs: number) => void,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.budget = options ? new MessageBudget(options) : undefined;
  }

  /** One inbound message of `bytes` to `group`; `route` fans it out and returns how many connections got it. */
  publish(group: string, bytes: number, route: () => number): number {
    const meter = this.meter;
    meter.inboundMessages += 1;
    meter.inboundBandwidthCost += messageCost(bytes, 'bandwidth');
    this.observe?.(group, bytes, this.nowMs());
    const verdict = this.budget?.admit(this.nowMs(), bytes) ?? 0;
    if (verdict === 'drop') {
      meter.droppedMessages += 1;
      return 0;
    }
    const deliver = (): number => {
      const delivered = route();
      meter.outboundMessages += delivered;
      meter.billedOutboundUnits += delivered * billedUnits(bytes);
      return delivered;
    };
    if (verdict <= 0) return deliver();
    meter.delayedMessages += 1;
    if (verdict > meter.maxQueueDelayMs) meter.maxQueueDelayMs = verdict;
    setTimeout(deliver, verdict).unref();
    return 0;
  }
}
