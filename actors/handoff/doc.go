// Package handoff holds the ownership handoff actor: it moves partitions
// when a join, decommission or force-remove changes who owns them.
//
// The ring's Plan (cluster/ring) says what to do; this actor only carries it
// out. On every tick it reads the latest topology snapshot and
//
//   - receives: for each placement of this node that no handoff record
//     covers, it pulls the partition in batches from a replica that has it
//     (HandoffPullRequest), merges each batch into its own vnode, and
//     persists the last key merged, so a transfer cut by a restart of either
//     side resumes there. When the last batch is in, it tells the topology
//     actor (HandoffDone), whose record reaches every node by gossip: routing
//     then reads from this node and stops standing in for it. While it runs,
//     the node already takes the partition's writes (Plan's pending members),
//     so nothing written meanwhile is missed;
//   - drains: for each partition this node holds data of but no longer has a
//     part in, it waits handoff.drop_delay (for every node to route by the
//     new ring), pushes its copy to the serving replicas in batches, and then
//     asks its vnode to drop it — only if no write arrived since the push
//     began (the vnode's generation), else it drains again later;
//   - retires: a decommissioned node that has no part in any partition and
//     holds no data calls OnRetired, and the node leaves the cluster.
//
// At most handoff.transfer_concurrency transfers run at once. Progress is
// shared through Status (the admin API's /admin/status, dhtctl status) and
// metrics.
package handoff
