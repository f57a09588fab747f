/**
 * The soak's arithmetic and its command line. The soak itself (minutes of calls on a Redis Cluster
 * with two app processes) is `npm run soak`, outside `npm test`: on a loaded 2-core machine even ten
 * calls through a failover take longer than a test should.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { turnDifference } from '../../bench/soak/verify.js';

const MAIN = fileURLToPath(new URL('../../bench/soak/main.ts', import.meta.url));

function soak(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('turnDifference', () => {
  it('counts nothing when the archive holds exactly what was said', () => {
    expect(turnDifference(['a', 'b', 'a'], ['a', 'b', 'a'])).toEqual({ lost: 0, duplicated: 0 });
  });

  it('counts a said turn missing from the archive as lost', () => {
    expect(turnDifference(['a', 'b', 'c'], ['a', 'c'])).toEqual({ lost: 1, duplicated: 0 });
  });

  it('counts an archived turn beyond what was said as duplicated, repeated texts included', () => {
    expect(turnDifference(['a', 'b', 'a'], ['a', 'b', 'a', 'a', 'b'])).toEqual({ lost: 0, duplicated: 2 });
  });

  it('counts both when one turn is lost and another archived twice', () => {
    expect(turnDifference(['a', 'b'], ['a', 'a'])).toEqual({ lost: 1, duplicated: 1 });
  });
});

describe('npm run soak', () => {
  it('prints its options with --help and exits 0', async () => {
    const { code, stdout } = await soak(['--help']);
    expect(code).toBe(0);
    for (const flag of ['--calls', '--media-calls', '--duration', '--ramp', '--no-faults']) expect(stdout).toContain(flag);
  });

  it('refuses a bad number with the reason and exit status 2, before starting anything', async () => {
    const { code, stderr } = await soak(['--calls', 'many']);
    expect(code).toBe(2);
    expect(stderr).toContain('--calls takes a whole number ≥ 1, not "many"');
  });

  it('refuses an unknown option with exit status 2', async () => {
    const { code, stderr } = await soak(['--callz', '3']);
    expect(code).toBe(2);
    expect(stderr).toContain("Unknown option '--callz'");
  });
});
