import Module from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Makes `@azure/functions-core` resolvable in this process (never in production: the Functions
 * worker provides the real one) and exposes what the app registered through `app.*`.
 */

export interface BindingMetadata {
  readonly type: string;
  readonly direction: 'in' | 'out';
  readonly route?: string;
  readonly methods?: string[];
  readonly authLevel?: string;
  readonly [key: string]: unknown;
}

export interface FunctionRegistration {
  readonly metadata: { readonly name: string; readonly bindings: Record<string, BindingMetadata> };
  readonly handler: (...args: unknown[]) => unknown;
}

export interface HookRegistration {
  readonly hookName: string;
  readonly callback: (context: unknown) => unknown;
}

interface CoreState {
  functions: FunctionRegistration[];
  hooks: HookRegistration[];
}

const SHIM = fileURLToPath(new URL('./functions-core.cjs', import.meta.url));
const CORE = '@azure/functions-core';
let installed = false;

type ResolveFilename = (request: string, ...rest: unknown[]) => string;

export function installFunctionsCore(): void {
  if (installed) return;
  installed = true;
  const mod = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = mod._resolveFilename;
  mod._resolveFilename = function resolve(this: unknown, request: string, ...rest: unknown[]) {
    if (request === CORE) return SHIM;
    return original.call(this, request, ...rest);
  };
}

function state(): CoreState {
  const s = (globalThis as Record<symbol, CoreState | undefined>)[Symbol.for('rtvoice.functions-core')];
  return s ?? { functions: [], hooks: [] };
}

export function registeredFunctions(): readonly FunctionRegistration[] {
  return state().functions;
}

export function registeredHooks(): readonly HookRegistration[] {
  return state().hooks;
}

export function triggerOf(registration: FunctionRegistration): BindingMetadata {
  const trigger = Object.values(registration.metadata.bindings).find((b) => /trigger$/i.test(b.type));
  if (!trigger) throw new Error(`function ${registration.metadata.name} has no trigger binding`);
  return trigger;
}
