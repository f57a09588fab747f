import { describe, expect, it } from 'vitest';
import { createLogger, maskPhoneNumber, redact, type LogFields } from '../../src/lib/telemetry/logger.js';

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
