import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { benchmarkTable, readResults, README_END, README_START, withTable } from '../../bench/readme-figures.js';
import { cpuTimes, failedBudgets } from '../../bench/lib.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README benchmark figures', () => {
  it('are the ones in bench/results/*.json (regenerate with npx tsx bench/readme-figures.ts --write)', () => {
    expect(readme).toContain(README_START);
    expect(withTable(readme, benchmarkTable(readResults()))).toBe(readme);
  });

  it('follow the results: a changed figure or a lost frame changes the table, and a README that disagrees fails', () => {
    const results = readResults();
    const relay = structuredClone(results.relay!);
    relay.steps[0].relayAddedLatencyMs.p99Ms = 0.5;
    relay.steps[0].lostPercent = 3.2;
    const table = benchmarkTable({ ...results, relay });
    const row = table.split('\n').find((l) => l.startsWith('| `relay`')) ?? '';
    expect(row).toContain('0.5 / ');
    expect(row).toContain('lost 3.2 %');
    expect(row).toContain('no frame lost ✘');
    expect(withTable(readme, table)).not.toBe(readme);
  });

  it('mark a failed budget ✘ and a passed one ✔, from the result file', () => {
    const results = readResults();
    const coldstart = { ...results.coldstart!, p50Ms: 456, p95Ms: 473 };
    expect(benchmarkTable({ ...results, coldstart })).toMatch(/\| `coldstart` \| [^\n]* \| 456 \/ 473 ms \| p95 ≤ 300 ms ✘ \|/);
    expect(benchmarkTable(results)).toMatch(/\| `coldstart` \| [^\n]* \| p95 ≤ 300 ms ✔ \|/);
  });

  it('quote the lost frames next to the latency of the relay run that lost them', () => {
    const row = readme.split('\n').find((l) => l.startsWith('| `relay`')) ?? '';
    const lost = (readResults().relay!.steps as { lostPercent: number }[]).map((s) => s.lostPercent);
    expect(row).toContain(`lost ${lost.map((l) => `${l} %`).join(' / ')}`);
    expect(row).not.toMatch(/✔/);
  });

  it('quoted in the notes below the table are the ones in the result files', () => {
    const { callbacks, relay } = readResults() as Record<string, any>;
    const load = (name: string) => callbacks.loads.find((l: any) => l.load === name);
    const step = (calls: number) => relay.steps.find((s: any) => s.calls === calls);
    const direct = relay.direct.find((s: any) => s.calls === 500);
    const quoted = [
      `(\`loopDelayP99Ms\`,\n${load('open').loopDelayP99Ms.toFixed(1)} ms under the open loop)`,
      `costs ${load('open').acsP50Ms.toFixed(2)} ms at p50 (\`acsP50Ms\`)`,
      `the handler's CPU ${load('closed').processCpuMsPerEvent.toFixed(1)} ms per event at saturation`,
      `${step(500).lostPercent.toFixed(1)} % of the frames were lost`,
      `were about ${Math.round(step(500).callerRoundTripMs.p50Ms / 1000)} s at p50`,
      `Its ${step(500).relayAddedLatencyMs.p99Ms} ms p99 describes only the frames that arrived`,
      `p99 of ${direct.relayAddedLatencyMs.p99Ms} ms`,
      `(${Math.round(step(300).relayCpuMicrosPerFramePair)} µs of CPU per frame pair, ${step(300).relayCpuPercentOfOneCorePerCall.toFixed(2)} % of a core per call at 300 calls)`,
      `(${step(500).relayCpuPercentOfOneCore} % measured at 500)`,
    ];
    const notes = readme.slice(readme.indexOf(README_END), readme.indexOf('## Deploy to Azure'));
    for (const figure of quoted) expect(notes.replace(/\n/g, ' ')).toContain(figure.replace(/\n/g, ' '));
  });

  it('stand between the markers once', () => {
    expect(readme.split(README_START).length).toBe(2);
    expect(readme.split(README_END).length).toBe(2);
  });
});

describe('benchmark bookkeeping', () => {
  it('reads CPU steal and idle from the cpu line of /proc/stat', () => {
    const stat = 'cpu  100 5 50 800 20 1 4 20 0 0\ncpu0 50 2 25 400 10 0 2 10 0 0\n';
    expect(cpuTimes(stat)).toEqual({ total: 1000, steal: 20, idle: 820 });
    expect(cpuTimes('intr 1 2 3')).toBeUndefined();
  });

  it('names every failed budget (npm run bench exits 1 on any)', () => {
    expect(failedBudgets({ budgets: { a: { value: 1, budget: '<= 2', pass: true }, b: { value: 473, budget: '<= 300 ms', pass: false } } })).toEqual(['b: 473 against <= 300 ms']);
    expect(failedBudgets({})).toEqual([]);
  });
});
