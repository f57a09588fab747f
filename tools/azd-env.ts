/**
 * Reading `azd env get-values`: one `KEY="value"` per line, written by azd with godotenv's quoting
 * (backslash escapes for `\`, `"`, `$`, `!`, `` ` ``, newline and carriage return inside double quotes).
 */

export class AzdEnvError extends Error {
  override readonly name = 'AzdEnvError';
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', '\\': '\\', '"': '"', $: '$', '!': '!', '`': '`' };

export function parseAzdEnv(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new AzdEnvError(`line ${index + 1}: not KEY=value`);
    const [, key, rest] = m as unknown as [string, string, string];
    values[key] = unquote(rest, index + 1);
  });
  return values;
}

function unquote(value: string, line: number): string {
  if (value.startsWith('"')) {
    let out = '';
    for (let i = 1; i < value.length; i++) {
      const ch = value[i]!;
      if (ch === '\\' && i + 1 < value.length) {
        const next = value[++i]!;
        out += ESCAPES[next] ?? `\\${next}`;
        continue;
      }
      if (ch === '"') return out;
      out += ch;
    }
    throw new AzdEnvError(`line ${line}: unterminated double quote`);
  }
  if (value.startsWith("'")) {
    const end = value.indexOf("'", 1);
    if (end < 0) throw new AzdEnvError(`line ${line}: unterminated single quote`);
    return value.slice(1, end);
  }
  return value.replace(/\s+#.*$/, '');
}
