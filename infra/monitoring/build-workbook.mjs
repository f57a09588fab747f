// Builds operations-workbook.json from operator-queries.kql (one workbook step per `// ── Title ──`
// section), so the queries an operator runs by hand and the workbook's never drift apart.
// `node infra/monitoring/build-workbook.mjs` rewrites the JSON; a test checks it is current.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function querySections(kql) {
  return kql
    .split(/^\/\/ ── /m)
    .slice(1)
    .map((chunk) => {
      const [head, ...rest] = chunk.split('\n');
      const body = rest.join('\n').trim();
      return {
        title: head.replace(/\s*─+\s*$/, '').trim(),
        notes: body.split('\n').filter((l) => l.startsWith('//')).map((l) => l.replace(/^\/\/\s?/, '')).join(' '),
        query: body.split('\n').filter((l) => !l.startsWith('//')).join('\n').trim().replace(/;\s*$/, ''),
      };
    });
}

export function buildWorkbook(kql) {
  const items = [
    { type: 1, name: 'intro', content: { json: "## rtvoice operations\nCalls, turns as the caller waited, barge-ins and failures, from the app's OpenTelemetry spans, logs and metrics (`infra/monitoring/operator-queries.kql`)." } },
    { type: 9, name: 'parameters', content: { version: 'KqlParameterItem/1.0', parameters: [{ id: 'callId', version: 'KqlParameterItem/1.0', name: 'CallId', label: 'Call id (for the timeline)', type: 1, value: '' }] } },
  ];
  for (const section of querySections(kql)) {
    let query = section.query.replace('let callId = "in-REPLACE_WITH_CALL_ID";', 'let callId = "{CallId}";');
    let visualization = section.title.startsWith('Calls in') ? 'piechart' : 'table';
    if (/\n\| render timechart$/.test(query)) {
      visualization = 'timechart';
      query = query.replace(/\n\| render timechart$/, '');
    }
    items.push({ type: 1, name: `${section.title} (notes)`, content: { json: `### ${section.title}\n${section.notes}` } });
    items.push({ type: 3, name: section.title, content: { version: 'KqlItem/1.0', query, size: 0, queryType: 0, resourceType: 'microsoft.insights/components', visualization } });
  }
  return { version: 'Notebook/1.0', items, fallbackResourceIds: [], $schema: 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json' };
}

const here = fileURLToPath(new URL('.', import.meta.url));
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const workbook = buildWorkbook(readFileSync(`${here}operator-queries.kql`, 'utf8'));
  writeFileSync(`${here}operations-workbook.json`, `${JSON.stringify(workbook, null, 2)}\n`);
}
