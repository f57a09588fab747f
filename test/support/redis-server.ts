/** Tests use the same private redis-server wrapper as the offline demo and dev host. */
export { RedisServer, RedisServerExited, freePort } from '../../emulators/redis/server.js';
