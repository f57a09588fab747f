/**
 * Route templates as the Functions host reads them (`calls/{callId}/events`, `{id:int}`, `{id?}`,
 * `{*rest}`), compiled to matchers over the path below the route prefix. Literal parts match
 * case-insensitively, as ASP.NET routing does.
 */
export interface CompiledRoute {
  readonly template: string;
  /** Higher wins when two templates match a path: literals beat parameters, catch-alls come last. */
  readonly precedence: number;
  match(path: string): Record<string, string> | undefined;
}

const CONSTRAINTS: Record<string, string> = {
  int: '-?\\d+',
  long: '-?\\d+',
  guid: '[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}',
  alpha: '[A-Za-z]+',
  bool: '(?:true|false)',
};

export function compileRoute(template: string): CompiledRoute {
  const names: string[] = [];
  const segments = template.replace(/^\/+|\/+$/g, '').split('/').filter(Boolean);
  let pattern = '';
  let precedence = 0;
  for (const segment of segments) {
    const whole = /^\{(\*)?([A-Za-z_][\w]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(segment);
    if (whole) {
      const [, catchAll, name = '', constraint, optional] = whole;
      names.push(name);
      const body = catchAll ? '.*' : (constraint && CONSTRAINTS[constraint.toLowerCase()]) ?? '[^/]+';
      pattern += optional || catchAll ? `(?:/(${body}))?` : `/(${body})`;
      precedence += catchAll ? -100 : constraint ? 10 : optional ? 0 : 5;
      continue;
    }
    precedence += segment.includes('{') ? 20 : 100;
    pattern += '/' + segment.replace(/\{([A-Za-z_]\w*)\}|([^{]+)/g, (_m, name: string | undefined, literal: string | undefined) => {
      if (name) {
        names.push(name);
        return '([^/]+?)';
      }
      return escape(literal ?? '');
    });
  }
  const regex = new RegExp(`^${pattern}/?$`, 'i');
  return {
    template,
    precedence,
    match(path) {
      const found = regex.exec(path === '' ? '/' : path);
      if (!found) return undefined;
      const params: Record<string, string> = {};
      names.forEach((name, i) => {
        const value = found[i + 1];
        if (value !== undefined) params[name] = decodeURIComponent(value);
      });
      return params;
    },
  };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
