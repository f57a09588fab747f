import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain ES module script without type declarations
import { buildWorkbook, querySections } from '../../infra/monitoring/build-workbook.mjs';

const kql = readFileSync(new URL('../../infra/monitoring/operator-queries.kql', import.meta.url), 'utf8');
const workbook = JSON.parse(readFileSync(new URL('../../infra/monitoring/operations-workbook.json', import.meta.url), 'utf8')) as unknown;
const bicep = readFileSync(new URL('../../infra/modules/monitoring.bicep', import.meta.url), 'utf8');

describe('the operators’ queries and workbook', () => {
  it('answer the five questions, and the workbook is built from the queries file as it is now', () => {
    const titles = (querySections(kql) as { title: string }[]).map((s) => s.title);
    expect(titles).toEqual(['Calls in the last hour by outcome', 'Slow turns (as the caller waited)', 'Barge-ins', 'Failures by cause', "One call's timeline"]);
    expect(workbook).toEqual(buildWorkbook(kql));
  });

  it('query the attributes and metric names the app exports', () => {
    for (const name of ['rtvoice.call.id', 'rtvoice.turn.id', 'rtvoice.turn.latency_ms', 'rtvoice.turn.first_audio_ms', 'rtvoice.outcome', 'rtvoice.barge_ins', 'error.type', 'rtvoice-call:']) expect(kql).toContain(name);
  });

  it('is deployed with Application Insights', () => {
    expect(bicep).toContain("loadTextContent('../monitoring/operations-workbook.json')");
    expect(bicep).toMatch(/sourceId: appInsights\.id/);
  });
});
