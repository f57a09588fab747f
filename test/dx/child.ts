import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A command of the repository run as a user would, its output collected as it comes. */
export class Child {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly process: ChildProcess;

  constructor(command: string, args: readonly string[], env: Readonly<Record<string, string | undefined>> = {}) {
    this.process = spawn(command, [...args], { cwd: REPO, env: { ...process.env, FORCE_COLOR: '0', ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.process.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.process.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.process.once('exit', (code, signal) => resolve({ code, signal })));
  }

  write(line: string): void {
    this.process.stdin?.write(`${line}\n`);
  }

  endInput(): void {
    this.process.stdin?.end();
  }

  /** Resolves with the first match of `pattern` in stdout; rejects after `timeoutMs` with what was printed. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout);
      if (match) return match;
      if (Date.now() > deadline || this.process.exitCode !== null) throw new Error(`no ${pattern} in the output:\n${this.stdout}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** To the whole process group, as Ctrl-C in a terminal does (npm does not pass signals on through its shell). */
  signal(signal: NodeJS.Signals): void {
    if (this.process.exitCode !== null || this.process.signalCode !== null || this.process.pid === undefined) return;
    try {
      process.kill(-this.process.pid, signal);
    } catch {
      // the group is gone already
    }
  }
}

/** Runs a command to its end. */
export async function run(command: string, args: readonly string[], env: Readonly<Record<string, string | undefined>> = {}, timeoutMs = 60_000) {
  const child = new Child(command, args, env);
  child.endInput();
  const timer = setTimeout(() => child.signal('SIGKILL'), timeoutMs);
  const { code } = await child.exited;
  clearTimeout(timer);
  return { code, stdout: child.stdout, stderr: child.stderr };
}
