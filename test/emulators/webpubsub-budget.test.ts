/**
 * The Web PubSub emulator's message budget: the documented send-to-small-group figures, charged per
 * resource, with latency growing past them; the undocumented parts (message cost at other sizes, what
 * happens to a queue a second deep) switchable and tested both ways.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { billedUnits, inboundBudgetPerSecond, MessageBudget, messageCost, startWebPubSubEmulator, type WebPubSubEmulator } from '../../emulators/webpubsub/index.js';

describe('message budget arithmetic', () => {
  it('uses the documented figures: 400 per unit, 15,000 per resource from 50 units', () => {
    expect(inboundBudgetPerSecond({ units: 1 })).toBe(400);
    expect(inboundBudgetPerSecond({ units: 20 })).toBe(8000);
    expect(inboundBudgetPerSecond({ units: 50 })).toBe(15_000);
    expect(inboundBudgetPerSecond({ units: 100 })).toBe(15_000);
  });

  it('charges a message by bandwidth with a 1 KB floor, or one each; bills outbound in 2 KB units', () => {
    expect(messageCost(300)).toBe(0.5);
    expect(messageCost(2048)).toBe(1);
    expect(messageCost(12_900)).toBeCloseTo(6.3, 1);
    expect(messageCost(12_900, 'messages')).toBe(1);
    expect([billedUnits(10), billedUnits(2048), billedUnits(2049), billedUnits(5000)]).toEqual([1, 1, 2, 3]);
  });

  it('routes at once within the budget and its burst, and delays what exceeds them by the excess', () => {
    const budget = new MessageBudget({ units: 1, burstMs: 100, cost: 'messages' });
    // 400/s for 2 s: never held back.
    const within = Array.from({ length: 800 }, (_, i) => budget.admit(i * 2.5, 100));
    expect(Math.max(...(within as number[]))).toBe(0);
    // Then 800/s for 1 s: the queue grows by 400 messages (1 s of budget).
    const over = Array.from({ length: 800 }, (_, i) => budget.admit(2000 + i * 1.25, 100)) as number[];
    expect(over[0]).toBe(0);
    expect(over[799]!).toBeGreaterThan(850);
    expect(over[799]!).toBeLessThan(1000);
  });

  it('queues past a second, or drops past it when switched to drop', () => {
    const queue = new MessageBudget({ units: 1, burstMs: 0, cost: 'messages' });
    const drop = new MessageBudget({ units: 1, burstMs: 0, cost: 'messages', overflow: 'drop', maxQueueDelayMs: 1000 });
    const burst = (b: MessageBudget) => Array.from({ length: 1000 }, () => b.admit(0, 100));
    const queued = burst(queue);
    const dropped = burst(drop);
    expect(queued.filter((d) => d === 'drop')).toHaveLength(0);
    expect(Math.max(...(queued as number[]))).toBeCloseTo(999 * 2.5, 0);
    // 401 messages fit within a second of waiting (0, 2.5 … 1000 ms); the rest are dropped.
    expect(dropped.filter((d) => d !== 'drop')).toHaveLength(401);
  });
});

describe('message budget in the emulator', () => {
  let wps: WebPubSubEmulator | undefined;
  afterEach(async () => {
    await wps?.close();
    wps = undefined;
  });

  /** A raw sendToGroup sender and a raw group member; returns what arrived and when. */
  async function sendBurst(emulator: WebPubSubEmulator, count: number): Promise<{ received: number; lastMs: number; meter: ReturnType<WebPubSubEmulator['meter']> }> {
    const service = new WebPubSubServiceClient(emulator.connectionString, 'media', { allowInsecureConnection: true });
    const member = await service.getClientAccessToken({ userId: 'member', groups: ['g.out'] });
    const sender = await service.getClientAccessToken({ userId: 'sender', roles: ['webpubsub.sendToGroup.g.out'] });
    const receiver = new WebSocket(member.url);
    await new Promise((resolve) => receiver.once('open', resolve));
    let received = 0;
    let lastMs = 0;
    const startedAt = performance.now();
    receiver.on('message', () => {
      received += 1;
      lastMs = performance.now() - startedAt;
    });
    const socket = new WebSocket(`${sender.url}&webpubsub_mode=sendToGroup&group=g.out`);
    await new Promise((resolve) => socket.once('open', resolve));
    for (let i = 0; i < count; i++) socket.send('x'.repeat(100));
    await new Promise((resolve) => setTimeout(resolve, 1800));
    socket.close();
    receiver.close();
    return { received, lastMs, meter: emulator.meter() };
  }

  it('holds back messages beyond the budget and delivers them late (overflow: queue)', async () => {
    // Prepare: a budget of 100 messages/s with no burst.
    wps = await startWebPubSubEmulator({ hubs: { media: {} }, messageBudget: { units: 1, inboundPerUnitPerSecond: 100, burstMs: 0, cost: 'messages' } });
    // Act: 150 messages at once.
    const { received, lastMs, meter } = await sendBurst(wps, 150);
    // Assess: all arrive, the last about 1.5 s later; the meter counts them.
    expect(received).toBe(150);
    expect(lastMs).toBeGreaterThan(1300);
    expect(meter).toMatchObject({ inboundMessages: 150, outboundMessages: 150, billedOutboundUnits: 150, droppedMessages: 0 });
    expect(meter.delayedMessages).toBe(149);
  });

  it('drops what would wait over a second (overflow: drop)', async () => {
    wps = await startWebPubSubEmulator({ hubs: { media: {} }, messageBudget: { units: 1, inboundPerUnitPerSecond: 100, burstMs: 0, cost: 'messages', overflow: 'drop' } });
    const { received, meter } = await sendBurst(wps, 150);
    expect(received).toBe(101);
    expect(meter).toMatchObject({ inboundMessages: 150, outboundMessages: 101, droppedMessages: 49 });
  });

  it('meters without holding anything back when no budget is set', async () => {
    wps = await startWebPubSubEmulator({ hubs: { media: {} } });
    const { received, meter } = await sendBurst(wps, 150);
    expect(received).toBe(150);
    expect(meter).toMatchObject({ inboundMessages: 150, outboundMessages: 150, delayedMessages: 0, droppedMessages: 0 });
  });
});
