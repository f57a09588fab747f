import { describe, expect, it } from 'vitest';
import { RedisCommandError, RedisUnavailableError } from '../../src/lib/state/errors.js';
import { toRedisError } from '../../src/lib/state/redis-client.js';

/** Error texts as Redis and ioredis word them (redis-server 7 cluster replies; ioredis 5 client errors). */
const execAbort = (previous: Error[]) => Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: previous });

describe('sorting Redis failures into "away" and "refused"', () => {
  it.each([
    ['MOVED 3999 127.0.0.1:6381'],
    ['ASK 3999 127.0.0.1:6381'],
    ['TRYAGAIN Multiple keys request during rehashing of slot'],
    ['CLUSTERDOWN The cluster is down'],
    ['CLUSTERDOWN Hash slot not served'],
    ['LOADING Redis is loading the dataset in memory'],
    ["READONLY You can't write against a read only replica."],
    ['MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no'],
    ['WRONGPASS invalid username-password pair or user is disabled.'],
    ['Too many Cluster redirections. Last error: ReplyError: MOVED 12 127.0.0.1:7001'],
    ['Failed to refresh slots cache.'],
    ["Cluster isn't ready and enableOfflineQueue options is false"],
    ['Connection is closed.'],
    ['connect ECONNREFUSED 127.0.0.1:7001'],
    ['Command timed out'],
  ])('%s is transient: retried or journaled', (message) => {
    expect(toRedisError('op', new Error(message))).toBeInstanceOf(RedisUnavailableError);
  });

  it('an EXECABORT caused by a redirect is transient; one caused by a bad command is a refusal', () => {
    expect(toRedisError('op', execAbort([new Error('MOVED 1 127.0.0.1:7001')]))).toBeInstanceOf(RedisUnavailableError);
    expect(toRedisError('op', execAbort([new Error("ERR wrong number of arguments for 'hset' command")]))).toBeInstanceOf(RedisCommandError);
    expect(toRedisError('op', execAbort([]))).toBeInstanceOf(RedisCommandError);
  });

  it.each([['WRONGTYPE Operation against a key holding the wrong kind of value'], ['ERR Error running script'], ["CROSSSLOT Keys in request don't hash to the same slot"]])(
    '%s is refused on its merits',
    (message) => {
      expect(toRedisError('op', new Error(message))).toBeInstanceOf(RedisCommandError);
    },
  );
});
