/** Tests use the same local Redis Cluster starter as the benchmarks and the soak. */
export { RedisCluster, ClusterNode, parseClusterNodes, type ClusterNodeView, type RedisClusterOptions } from '../../emulators/redis/cluster.js';
