/**
 * A keypad menu on the media path: an agent definition with `dtmf.main`, written to a temporary
 * folder (no TypeScript), answers keys pressed during a media call — ACS's DtmfData frames — the way
 * it does on the recognize/play path: a key picks a knowledge answer, another a transfer. The keys
 * never reach the model.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallerStep } from '../../emulators/acs/index.js';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { lifecycleOf } from '../e2e/support.js';
import { APP_NUMBER, startMediaStack } from './support.js';

const MENU = `
dtmf:
  main:
    prompt: Press 1 for our opening hours, or 0 to speak to one of our team.
    options:
      "1": { knowledge: opening_hours }
      "0": { tool: transfer_to_human }
`;

describe('a keypad menu on a media call', () => {
  let dir: string;
  let stack: OfflineStack;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'agents-menu-'));
    await cp('agents', dir, { recursive: true });
    const support = path.join(dir, 'support', 'support.agent.yaml');
    await writeFile(support, (await readFile(support, 'utf8')) + MENU);
    stack = await startMediaStack({}, { env: { LOG_LEVEL: 'error', AGENTS_DIR: dir, CLAIMS_API_URL: 'http://127.0.0.1:1' } });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers a menu key from the definition and transfers on another, without the model', { timeout: 40_000 }, async () => {
    // Prepare
    const answered: CallerStep = { waitFor: 'agentSilence', quietMs: 1_200, timeoutMs: 15_000 };
    const steps: CallerStep[] = [{ waitFor: 'greeting', quietMs: 600, timeoutMs: 15_000 }, { dtmf: '1' }, answered, { dtmf: '0' }, answered];

    // Act
    const call = await stack.acs.placeCall({ from: '+15550107501', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 30_000 });
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: the hours, then the hold prompt and a transfer; the model was never asked.
    expect(call.endedBy).toBe('transfer');
    const callId = callIdForIncoming(call.serverCallId);
    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    const turns = transcript!.turns.map((t) => [t.role, t.content.split(':')[0]!.split('.')[0]]);
    expect(turns).toEqual([
      ['assistant', 'Hello, thanks for calling Contoso'],
      ['user', '(pressed 1)'],
      ['assistant', 'About our opening hours'],
      ['user', '(pressed 0)'],
      ['assistant', 'Of course'],
    ]);
    expect(transcript!.turns.at(-1)!.meta).toMatchObject({ agent: 'support', tools: ['transfer_to_human'] });
    const session = [...stack.media!.realtime.sessions.values()].find((s) => s.correlationId === callId)!;
    expect(session.received).not.toContain('response.create');
  });
});
