/**
 * Media forwarding through the Web PubSub emulator, shaped like production calls:
 * each simulated call has a raw WebSocket client in `webpubsub_mode=sendToGroup` (what ACS is)
 * sending 960-byte PCM AudioData JSON frames to `call.<id>.in` every 20 ms and listening on
 * `call.<id>.out`; relay-side WebPubSubClients (reliable JSON subprotocol) join the `.in` groups
 * and answer every frame with an outbound frame to `call.<id>.out`.
 *
 *   npm run bench -- wps [--calls 100] [--fps 50] [--seconds 10] [--relays 4] [--in-process]
 *
 * By default the emulator runs in its own process (as it does in use) so its event loop is not
 * shared with the 100 simulated callers; `--in-process` runs everything in one process.
 * Latency is sender timestamp → receiver callback in this process, per direction.
 */
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { WebPubSubClient } from '@azure/web-pubsub-client';
import { WebSocket } from 'ws';
import { startWebPubSubEmulator } from '../emulators/webpubsub/index.js';
import { LatencyRecorder, printTable, processCpuMs, round, sleep, startWebPubSubEmulatorProcess } from './lib.js';

const HUB = 'media';
const PCM_FRAME_BYTES = 960; // 20 ms of 24 kHz 16-bit mono
const WARMUP_MS = 1_000;

interface EmulatorHandle {
  connectionString: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

const nowMs = () => performance.timeOrigin + performance.now();

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      calls: { type: 'string', default: '100' },
      fps: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '10' },
      relays: { type: 'string', default: '4' },
      'in-process': { type: 'boolean', default: false },
    },
  });
  const calls = Number(values.calls);
  const fps = Number(values.fps);
  const seconds = Number(values.seconds);
  const relayCount = Math.max(1, Math.min(Number(values.relays), calls));
  const intervalMs = 1000 / fps;

  const emulator = values['in-process'] ? await inProcessEmulator() : await startWebPubSubEmulatorProcess(HUB);
  const service = new WebPubSubServiceClient(emulator.connectionString, HUB, { allowInsecureConnection: true });
  const inbound = new LatencyRecorder();
  const outbound = new LatencyRecorder();
  let recording = false;
  const counts = { inSent: 0, inReceived: 0, outSent: 0, outReceived: 0 };

  const pcm = Buffer.alloc(PCM_FRAME_BYTES);
  for (let i = 0; i < pcm.length; i += 2) pcm.writeInt16LE(Math.round(8000 * Math.sin(i / 20)), i);
  const pcmBase64 = pcm.toString('base64');

  // Relay side: WebPubSubClients that own a share of the calls each.
  const relays: WebPubSubClient[] = [];
  for (let r = 0; r < relayCount; r++) {
    const { url } = await service.getClientAccessToken({ userId: `relay-${r}`, roles: ['webpubsub.joinLeaveGroup', 'webpubsub.sendToGroup'] });
    const relay = new WebPubSubClient(url);
    relay.on('group-message', ({ message }) => {
      const frame = JSON.parse(message.data as string) as { callId: number; sentAtMs: number; measured: boolean };
      const received = nowMs();
      if (frame.measured) {
        inbound.recordMs(received - frame.sentAtMs);
        counts.inReceived++;
        counts.outSent++;
      }
      const reply = `{"Kind":"AudioData","AudioData":{"Data":"${pcmBase64}"},"StopAudio":null,"measured":${frame.measured},"sentAtMs":${nowMs()}}`;
      void relay.sendToGroup(`call.${frame.callId}.out`, reply, 'text', { fireAndForget: true, noEcho: true }).catch(() => undefined);
    });
    await relay.start();
    relays.push(relay);
  }
  for (let c = 0; c < calls; c++) await relays[c % relayCount]!.joinGroup(`call.${c}.in`);

  // Caller side: one raw sendToGroup-mode socket per call, as ACS media streaming connects.
  const sockets: WebSocket[] = [];
  for (let c = 0; c < calls; c++) {
    const { url } = await service.getClientAccessToken({ roles: [`webpubsub.sendToGroup.call.${c}.in`], groups: [`call.${c}.out`] });
    const socket = new WebSocket(`${url}&webpubsub_mode=sendToGroup&group=call.${c}.in`);
    await new Promise<void>((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.on('message', (data: Buffer) => {
      const received = nowMs();
      const text = data.toString('utf8');
      const frame = JSON.parse(text) as { sentAtMs: number; measured: boolean };
      if (frame.measured) {
        outbound.recordMs(received - frame.sentAtMs);
        counts.outReceived++;
      }
    });
    sockets.push(socket);
  }

  // 50 frames/s per call, call start times spread over one frame interval. Each call schedules
  // its next frame against its own start time, so timer drift does not lower the frame rate.
  const timers = new Set<NodeJS.Timeout>();
  let sending = true;
  const firstFrameAt = nowMs() + 10;
  sockets.forEach((socket, c) => {
    let frameNo = 0;
    const startAt = firstFrameAt + (c * intervalMs) / calls;
    const send = () => {
      // Frames sent inside the measurement window carry measured:true, so frames still in
      // flight when it closes are counted on arrival rather than as lost.
      const frame = `{"kind":"AudioData","audioData":{"timestamp":"${new Date().toISOString()}","participantRawID":"8:acs:bench","data":"${pcmBase64}","silent":false},"callId":${c},"measured":${recording},"sentAtMs":${nowMs()}}`;
      socket.send(frame, { binary: false });
      if (recording) counts.inSent++;
    };
    const schedule = () => {
      if (!sending) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        send();
        frameNo++;
        schedule();
      }, Math.max(0, startAt + frameNo * intervalMs - nowMs()));
      timers.add(timer);
    };
    schedule();
  });

  await sleep(WARMUP_MS);
  const emulatorCpuStart = processCpuMs(emulator.pid);
  const benchCpuStart = process.cpuUsage();
  const loadBefore = loadavg()[0] ?? 0;
  // Stalls of this process's own event loop show up in both directions' latency; reported apart.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const startedAt = nowMs();
  recording = true;
  await sleep(seconds * 1000);
  recording = false;
  const elapsedS = (nowMs() - startedAt) / 1000;
  const emulatorCpuMs = emulator.pid === undefined ? undefined : processCpuMs(emulator.pid)! - emulatorCpuStart!;
  const benchCpu = process.cpuUsage(benchCpuStart);
  loopDelay.disable();

  sending = false;
  for (const t of timers) clearTimeout(t);
  await sleep(1_000); // let the last measured frames arrive
  for (const socket of sockets) socket.close();
  for (const relay of relays) relay.stop();
  await emulator.stop();

  const direction = (sent: number, received: number, latency: LatencyRecorder) => ({
    sent,
    received,
    lost: Math.max(0, sent - received),
    framesPerSecond: round(received / elapsedS, 1),
    latencyMs: latency.summary(),
  });
  const result = {
    calls,
    framesPerSecondPerCallEachWay: fps,
    pcmBytesPerFrame: PCM_FRAME_BYTES,
    relays: relayCount,
    emulator: values['in-process'] ? 'in-process' : 'separate process',
    durationS: round(elapsedS, 2),
    inbound: direction(counts.inSent, counts.inReceived, inbound),
    outbound: direction(counts.outSent, counts.outReceived, outbound),
    totalForwardedFramesPerSecond: round((counts.inReceived + counts.outReceived) / elapsedS, 1),
    emulatorCpuPercentOfOneCore: emulatorCpuMs === undefined ? null : round((emulatorCpuMs / (elapsedS * 1000)) * 100, 1),
    emulatorCpuMicrosPerForwardedFrame: emulatorCpuMs === undefined ? null : round((emulatorCpuMs * 1000) / (counts.inReceived + counts.outReceived), 1),
    // Other work on the machine shows up as latency tails; the 1-minute load average says how much there was.
    loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0] ?? 0, 2) },
    benchEventLoopDelayMs: { p50: round(loopDelay.percentile(50) / 1e6), p99: round(loopDelay.percentile(99) / 1e6), max: round(loopDelay.max / 1e6) },
    benchProcessCpuPercentOfOneCore: round(((benchCpu.user + benchCpu.system) / 1000 / (elapsedS * 1000)) * 100, 1),
  };
  printTable(
    (['inbound', 'outbound'] as const).map((d) => ({
      direction: d === 'inbound' ? 'ACS → relay (call.<id>.in)' : 'relay → ACS (call.<id>.out)',
      'frames/s': result[d].framesPerSecond,
      lost: result[d].lost,
      p50Ms: result[d].latencyMs.p50Ms,
      p99Ms: result[d].latencyMs.p99Ms,
      maxMs: result[d].latencyMs.maxMs,
    })),
  );
  console.log(`emulator CPU: ${result.emulatorCpuPercentOfOneCore ?? 'n/a'} % of one core (${result.emulatorCpuMicrosPerForwardedFrame ?? 'n/a'} µs per forwarded frame); bench process: ${result.benchProcessCpuPercentOfOneCore} %; load average ${result.loadAverage1m.before} → ${result.loadAverage1m.after}`);
  console.log(`bench event-loop delay: p99 ${result.benchEventLoopDelayMs.p99} ms, max ${result.benchEventLoopDelayMs.max} ms (1 ms resolution)`);
  return result;
}

async function inProcessEmulator(): Promise<EmulatorHandle> {
  const emulator = await startWebPubSubEmulator({ hubs: { [HUB]: {} } });
  return { connectionString: emulator.connectionString, pid: undefined, stop: () => emulator.close() };
}



