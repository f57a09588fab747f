/**
 * A call bridge's states (src/lib/media/call-bridge.ts): connecting, live, reconnecting, ending,
 * closed — the moves between them, and what a caller frame does in each.
 *
 * The conversation is on real Redis. The agent session is a stand-in with the port's own shape
 * (`AgentSessionLike`), because what is under test is when the bridge opens, reopens and closes it,
 * and the realtime service cannot be made to hold a connect half-open or refuse on cue; the e2e suites
 * run the same paths against the realtime emulator (test/media-e2e/failover.test.ts, fixed-prompts.test.ts).
 * Reconnect waits are the bridge's own (250 ms first), on the real clock.
 */

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BridgeStateError, CallBridge, canMoveBridge, type CallBridgeState } from '../../src/lib/media/call-bridge.js';
import type { AgentSessionFactory, AgentSessionLike } from '../../src/lib/media/agent-port.js';
import type { RealtimeAgentHandlers } from '../../src/lib/agent/realtime/types.js';
import { buildInboundAudioDataFrame } from '../../src/lib/media/codec.js';
import { RelayError } from '../../src/lib/media/errors.js';
import { ConversationManager } from '../../src/lib/state/conversation/conversation-manager.js';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { openSharedStore, randomId, type StoreHandle } from '../state/support/store.js';

type RecordedSession = AgentSessionLike & { readonly appended: string[]; closed: boolean };

type Connect = { readonly handlers: RealtimeAgentHandlers; readonly session: RecordedSession; open(): void; fail(error: Error): void };

/** Agent sessions on cue: each connect opens at once, waits to be opened, or is refused. */
class AgentStandIn {
  readonly connects: Connect[] = [];
  mode: 'open' | 'hold' | Error = 'open';

  readonly factory: AgentSessionFactory = (request) => {
    const appended: string[] = [];
    const session: RecordedSession = {
      appended,
      closed: false,
      appendAudio: (audio) => void appended.push(audio),
      requestResponse: () => undefined,
      respondTo: () => undefined,
      update: () => ({ voiceChanged: false }),
      cancelResponse: () => undefined,
      truncate: () => '',
      close: async () => {
        session.closed = true;
      },
    };
    const mode = this.mode;
    return new Promise<AgentSessionLike>((resolve, reject) => {
      this.connects.push({ handlers: request.handlers, session, open: () => resolve(session), fail: reject });
      if (mode === 'open') resolve(session);
      else if (mode instanceof Error) reject(mode);
    });
  };

  last(): Connect {
    return this.connects.at(-1)!;
  }
}

let h: StoreHandle;
beforeAll(async () => {
  h = await openSharedStore();
});
afterAll(async () => {
  await h?.close();
});

/** How the realtime socket reports going away under a call (1006: closed without a close frame). */
const SOCKET_DROPPED = { code: 1006, reason: '' };

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

async function bridgeWith(agent: AgentStandIn, options: { hangUp?: (callId: string) => Promise<void> } = {}): Promise<CallBridge> {
  const callId = randomId();
  return new CallBridge({ callId, conversation: await ConversationManager.fromRedis(callId, h.store), send: () => undefined, agent: agent.factory, logger: quiet, ...options });
}

/** A 20 ms caller frame at 24 kHz (the agent's rate: passed through as is), told apart by its fill byte. */
function callerFrame(fill: number): { readonly text: string; readonly audio: string } {
  const audio = Buffer.alloc(960, fill % 256).toString('base64');
  return { text: buildInboundAudioDataFrame({ data: audio }), audio };
}

describe('call bridge states', () => {
  it('connecting → live: caller audio waits while the agent connects, up to five seconds of it, then reaches the agent in order', async () => {
    // Prepare
    const agent = new AgentStandIn();
    agent.mode = 'hold';
    const bridge = await bridgeWith(agent);
    const started = bridge.start();
    await vi.waitFor(() => expect(agent.connects).toHaveLength(1));
    const frames = Array.from({ length: 260 }, (_, i) => callerFrame(i));

    // Act
    for (const frame of frames) bridge.onInboundFrame(frame.text);
    const whileConnecting = bridge.state;
    agent.last().open();
    await started;
    bridge.onInboundFrame(callerFrame(7).text);

    // Assess
    expect(whileConnecting).toBe('connecting');
    expect(bridge.state).toBe('live');
    expect(bridge.stats.framesDroppedWhileConnecting).toBe(10);
    expect(agent.last().session.appended).toEqual([...frames.slice(10).map((f) => f.audio), callerFrame(7).audio]);
    await bridge.close();
  });

  it('live → reconnecting → connecting → live: a dropped agent socket is reopened after 250 ms, and audio waits meanwhile', async () => {
    // Prepare
    const agent = new AgentStandIn();
    const bridge = await bridgeWith(agent);
    await bridge.start();
    const first = agent.last();
    agent.mode = 'hold';

    // Act: the socket drops (reported twice, as a socket may); the caller goes on talking
    first.handlers.onClose?.(SOCKET_DROPPED);
    first.handlers.onClose?.(SOCKET_DROPPED);
    const afterDrop = bridge.state;
    bridge.onInboundFrame(callerFrame(1).text);
    await vi.waitFor(() => expect(agent.connects).toHaveLength(2), { timeout: 2_000, interval: 10 });
    const whileReopening = bridge.state;
    bridge.onInboundFrame(callerFrame(2).text);
    agent.last().open();
    await vi.waitFor(() => expect(bridge.state).toBe('live'));
    bridge.onInboundFrame(callerFrame(3).text);

    // Assess
    expect(afterDrop).toBe('reconnecting');
    expect(whileReopening).toBe('connecting');
    expect(first.session.appended).toEqual([]);
    expect(agent.last().session.appended).toEqual([callerFrame(1).audio, callerFrame(2).audio, callerFrame(3).audio]);
    expect(agent.connects).toHaveLength(2);
    await bridge.close();
  });

  it('a socket that drops while it opens: that session is closed when it opens, and the reconnect opens another', async () => {
    // Prepare
    const agent = new AgentStandIn();
    agent.mode = 'hold';
    const bridge = await bridgeWith(agent);
    const started = bridge.start();
    await vi.waitFor(() => expect(agent.connects).toHaveLength(1));
    const first = agent.last();

    // Act
    first.handlers.onClose?.(SOCKET_DROPPED);
    agent.mode = 'open';
    first.open();
    await started;
    const afterFirstOpened = bridge.state;
    await vi.waitFor(() => expect(bridge.state).toBe('live'), { timeout: 2_000, interval: 10 });

    // Assess
    expect(afterFirstOpened).toBe('reconnecting');
    expect(first.session.closed).toBe(true);
    expect(agent.connects).toHaveLength(2);
    expect(agent.last().session.closed).toBe(false);
    await bridge.close();
  });

  it('→ ending: an agent refused for good ends the call (failure prompt, then hang-up), and the caller audio is refused', async () => {
    // Prepare
    const agent = new AgentStandIn();
    const hungUp: string[] = [];
    const bridge = await bridgeWith(agent, { hangUp: async (callId) => void hungUp.push(callId) });
    await bridge.start();
    agent.mode = new RelayError('the realtime deployment does not exist', false);

    // Act
    agent.last().handlers.onClose?.(SOCKET_DROPPED);
    await vi.waitFor(() => expect(bridge.state).toBe('ending'), { timeout: 2_000, interval: 10 });
    bridge.onInboundFrame(callerFrame(1).text);
    await vi.waitFor(() => expect(hungUp).toEqual([bridge.callId]), { timeout: 2_000, interval: 10 });
    await bridge.close();

    // Assess
    expect(bridge.stats.refusedFrames).toEqual({ 'call-ending': 1 });
    expect(agent.connects).toHaveLength(2);
    expect(bridge.state).toBe('closed');
  });

  it('live → closed: close ends the agent session, refuses frames after it, and closing again is a no-op', async () => {
    // Prepare
    const agent = new AgentStandIn();
    const bridge = await bridgeWith(agent);
    await bridge.start();
    bridge.onInboundFrame(callerFrame(1).text);

    // Act
    await bridge.close();
    bridge.onInboundFrame(callerFrame(2).text);
    bridge.onInboundFrame(callerFrame(3).text);
    await bridge.close();
    await bridge.abandon();

    // Assess
    expect(bridge.state).toBe('closed');
    expect(agent.last().session.closed).toBe(true);
    expect(agent.last().session.appended).toEqual([callerFrame(1).audio]);
    expect(bridge.stats.refusedFrames).toEqual({ 'call-closed': 2 });
  });

  it('closed while connecting: the session that opens afterwards is closed at once and the bridge stays closed', async () => {
    // Prepare
    const agent = new AgentStandIn();
    agent.mode = 'hold';
    const bridge = await bridgeWith(agent);
    const started = bridge.start();
    await vi.waitFor(() => expect(agent.connects).toHaveLength(1));

    // Act
    await bridge.abandon();
    agent.last().open();
    await started;

    // Assess
    expect(bridge.state).toBe('closed');
    expect(agent.last().session.closed).toBe(true);
  });

  it('abandoned: a turn the agent socket still reports, and turns staged before, are not written', async () => {
    // Prepare: a caller turn staged while an earlier flush is still on its way
    const agent = new AgentStandIn();
    const callId = randomId();
    const conversation = await ConversationManager.fromRedis(callId, h.store);
    const bridge = new CallBridge({ callId, conversation, send: () => undefined, agent: agent.factory, logger: quiet });
    await bridge.start();
    const timings = { startedAtEpochMs: Date.now(), endedAtEpochMs: Date.now() };
    agent.last().handlers.onTurnCompleted?.({ role: 'user', text: 'What are your opening hours', itemId: 'item_1', timings });

    // Act: another relay takes the call; the close handshake delivers the answer
    await bridge.abandon();
    agent.last().handlers.onTurnCompleted?.({ role: 'agent', text: 'We open at nine.', itemId: 'item_2', responseId: 'resp_1', timings });
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Assess
    const persisted = await ConversationManager.fromRedis(callId, h.store);
    expect(persisted.getHistory().map((t) => t.content)).toEqual([]);
  });

  it('closed while waiting to reconnect: no agent session is opened for the call', async () => {
    // Prepare
    const agent = new AgentStandIn();
    const bridge = await bridgeWith(agent);
    await bridge.start();
    agent.last().handlers.onClose?.(SOCKET_DROPPED);

    // Act
    await bridge.close();
    await new Promise((resolve) => setTimeout(resolve, 400));

    // Assess
    expect(agent.connects).toHaveLength(1);
    expect(bridge.state).toBe('closed');
  });

  it('allows only its own moves; any other is a typed, non-retryable error', () => {
    // Prepare
    const states: CallBridgeState[] = ['connecting', 'live', 'reconnecting', 'ending', 'closed'];
    const allowed = new Set(['connecting→live', 'connecting→reconnecting', 'connecting→ending', 'connecting→closed', 'live→reconnecting', 'live→closed', 'reconnecting→connecting', 'reconnecting→closed', 'ending→closed']);

    // Act
    const moves = states.flatMap((from) => states.map((to) => [`${from}→${to}`, canMoveBridge(from, to)] as const));
    const error = new BridgeStateError('call-1', 'closed', 'live');

    // Assess
    expect(moves.filter(([, ok]) => ok).map(([move]) => move).sort()).toEqual([...allowed].sort());
    expect(error).toBeInstanceOf(RelayError);
    expect(error).toMatchObject({ name: 'BridgeStateError', code: 'bridge_state', retryable: false, from: 'closed', to: 'live' });
    expect(error.message).toBe('the call bridge cannot go from closed to live');
  });
});
