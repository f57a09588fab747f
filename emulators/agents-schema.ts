/** `npm run agents:schema`: writes the JSON Schemas of agent, scenario and routing files for editors. */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { jsonSchemas } from '../src/lib/agents/schema.js';
import { parseCli } from './cli-support.js';

parseCli({
  usage: 'npm run agents:schema',
  summary: 'Writes the JSON Schemas of agent, scenario and routing files to agents/schema/, for editors.',
  options: {},
  describe: {},
} as const);

const dir = fileURLToPath(new URL('../agents/schema/', import.meta.url));
for (const [kind, schema] of Object.entries(jsonSchemas())) {
  await writeFile(`${dir}${kind}.schema.json`, `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`agents/schema/${kind}.schema.json`);
}
