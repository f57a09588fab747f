import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors.js';
import { RedisUnavailableError, StateLostError } from '../../src/lib/state/errors.js';
import { createLogger, formatError, maskPhoneNumber, redact, type LogFields } from '../../src/lib/telemetry/logger.js';

describe('log redaction', () => {
  it('masks phone numbers in messages and string fields, whatever their format', () => {
    expect(redact('caller +15550100123 connected')).toBe('caller +1•••••••123 connected');
    expect(redact('raw id 4:+15550100123')).toBe('raw id 4:+1•••••••123');
    expect(redact('call +1 (555) 010-0123 now')).not.toContain('010-0123');
  });

  it('leaves identifiers alone: UUIDs, hex hashes, short numbers', () => {
    const uuid = '12345678-1234-4abc-8def-123456789012';
    expect(redact(`call ${uuid}`)).toBe(`call ${uuid}`);
    expect(redact('hash 0c0012345678ab')).toBe('hash 0c0012345678ab');
    expect(redact('took 1234 ms')).toBe('took 1234 ms');
    expect(redact('listening on http://127.0.0.1:45123/x')).toBe('listening on http://127.0.0.1:45123/x');
  });

  it('drops secret-looking fields and masks nested values', () => {
    const lines: LogFields[] = [];
    const logger = createLogger((_level, _message, fields) => lines.push(fields ?? {}), 'debug');
    logger.info('x', { accessKey: 'k', password: 'p', nested: { to: '+15550100999' }, count: 3 });
    expect(lines[0]).toEqual({ nested: { to: maskPhoneNumber('+15550100999') }, count: 3 });
  });
});

describe('error formatting', () => {
  const capture = () => {
    const lines: LogFields[] = [];
    const logger = createLogger((_level, _message, fields) => lines.push(fields ?? {}), 'debug');
    return { logger, lines };
  };

  it('keeps name, message, stack, own fields and the cause chain of an error, then masks it all', () => {
    // Prepare: an error of ours wrapping a Node transport error, with a phone number in a message and in its context.
    const transport = Object.assign(new Error('connect ECONNREFUSED to +15550100456'), { code: 'ECONNREFUSED', port: 6390 });
    const error = new RedisUnavailableError('HGETALL', transport);
    const wrapper = new AppError('turn failed for +15550100123', { code: 'turn_failed', retryable: true, context: { callId: 'in-1', dialled: '+15550100789' }, cause: error });
    const { logger, lines } = capture();
    // Act
    logger.error('event handling failed', { error: wrapper });
    // Assess
    const logged = lines[0]?.error as Record<string, any>;
    expect(logged).toMatchObject({ name: 'AppError', message: 'turn failed for +1•••••••123', code: 'turn_failed', retryable: true, context: { callId: 'in-1', dialled: '+1•••••••789' } });
    expect(logged.stack).toMatch(/^AppError: turn failed for \+1•••••••123\n\s+at /);
    expect(logged.cause).toMatchObject({ name: 'RedisUnavailableError', code: 'redis_unavailable', retryable: true, operation: 'HGETALL', context: { operation: 'HGETALL' } });
    expect(logged.cause.cause).toMatchObject({ name: 'Error', message: 'connect ECONNREFUSED to +1•••••••456', code: 'ECONNREFUSED', port: 6390 });
    expect(logged.cause.cause.stack).toContain('at ');
    expect(JSON.stringify(lines)).not.toMatch(/5550100\d{3}/);
  });

  it('stops at a cycle and at the depth limit instead of recursing forever', () => {
    const selfish = new Error('I am my own cause');
    (selfish as { cause?: unknown }).cause = selfish;
    let deep: Error = new Error('root');
    for (let i = 0; i < 20; i += 1) deep = new Error(`level ${i}`, { cause: deep });
    // Act
    const cyclic = formatError(selfish);
    const chain = formatError(deep);
    // Assess
    expect(cyclic).toMatchObject({ name: 'Error', message: 'I am my own cause', cause: '[circular]' });
    let depth = 0;
    let link: unknown = chain;
    while (link && typeof link === 'object') {
      depth += 1;
      link = (link as { cause?: unknown }).cause;
    }
    expect(link).toBe('[depth limit]');
    expect(depth).toBeLessThan(10);
  });

  it('formats errors and masks numbers inside arrays, and drops secret fields inside them', () => {
    const { logger, lines } = capture();
    const aggregate = new AggregateError([new Error('first +15550100111'), new StateLostError('call-1', 'flush')], 'two failed');
    // Act
    logger.warn('batch', { callers: ['+15550100222', 'unknown'], attempts: [{ to: '+15550100333', apiKey: 'k' }], error: aggregate });
    // Assess
    expect(lines[0]?.callers).toEqual(['+1•••••••222', 'unknown']);
    expect(lines[0]?.attempts).toEqual([{ to: '+1•••••••333' }]);
    const errors = (lines[0]?.error as { errors: Record<string, unknown>[] }).errors;
    expect(errors.map((e) => [e.name, e.message])).toEqual([
      ['Error', 'first +1•••••••111'],
      ['StateLostError', 'Redis lost state of "call-1" (during flush) and no copy is held here'],
    ]);
    expect(errors[1]).toMatchObject({ code: 'state_lost', partition: 'call-1', operation: 'flush' });
  });

  it('shows an object shared by two fields in both, not as a cycle', () => {
    const { logger, lines } = capture();
    const shared = { callId: 'in-2' };
    logger.info('x', { a: shared, b: shared });
    expect(lines[0]).toEqual({ a: { callId: 'in-2' }, b: { callId: 'in-2' } });
  });
});
