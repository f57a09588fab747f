/**
 * The two readings of .funcignore, so the package can be checked under both.
 *
 * azd: go-gitignore over the folder it zips (Azure/azure-dev cli/azd/pkg/project/project_utils.go,
 * `gitignore.New(...)` then `ignorer.Absolute(src, isDir)`), i.e. gitignore rules — here the `ignore`
 * package, which implements them. azd also always leaves out `.azure/`, the ignore file itself and, for
 * Functions, `local.settings.json`.
 *
 * Core Tools: GitIgnoreParser (azure-functions-core-tools src/Azure.Functions.Cli/Common/GitIgnoreParser.cs):
 * comments and blank lines dropped, a leading `!` negates and a leading `/` is removed, `**` becomes
 * "one or more of anything", `*` "one or more characters other than /", and a path is denied when
 * some pattern matches a prefix of it and no negated pattern does.
 */
import ignore from 'ignore';

export type IgnoreReading = (relativePath: string) => boolean;

export function azdIgnores(funcignore: string, ignoreFileName = '.funcignore'): IgnoreReading {
  const rules = ignore().add(funcignore.replace(/^\uFEFF/, ''));
  return (path) => {
    const parts = path.split('/');
    if (parts.includes('.azure') || path === ignoreFileName || parts.at(-1) === 'local.settings.json') return true;
    // A file under an ignored folder is ignored with it (go-gitignore is asked about every folder on the way down).
    for (let i = 1; i < parts.length; i++) if (rules.ignores(`${parts.slice(0, i).join('/')}/`)) return true;
    return rules.ignores(path);
  };
}

function escapeRegex(text: string): string {
  return text.replace(/[-[\]/{}()+?.\\^$|]/g, '\\$&');
}

function coreToolsPattern(pattern: string): string {
  return escapeRegex(pattern).replace(/\*\*/g, '(.+)').replace(/\*/g, '([^\\/]+)');
}

export function coreToolsIgnores(funcignore: string): IgnoreReading {
  const positive: string[] = [];
  const negative: string[] = [];
  for (const raw of funcignore.split('\n')) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    if (negated) line = line.slice(1);
    if (line.startsWith('/')) line = line.slice(1);
    (negated ? negative : positive).push(coreToolsPattern(line));
  }
  const compile = (list: string[]) => (list.length === 0 ? /$^/ : new RegExp(`^((${list.sort().join(')|(')}))`));
  const pos = compile(positive);
  const neg = compile(negative);
  return (path) => !(neg.test(path) || !pos.test(path));
}
