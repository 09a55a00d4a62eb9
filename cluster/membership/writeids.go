package membership

// KeepWriteIDs reports whether every member of cluster that may still
// hold or receive data announces that it keeps write ids: any but those
// that left gossip and own nothing in the ring. A node of an earlier
// release drops write ids when it rewrites an object, and a collapsed
// write's copy stripped there could later make the other copy look
// superseded; while one is a member, writes are not handed over.
func KeepWriteIDs(members []Member, cluster string, owner func(id string) bool) bool {
	for _, m := range members {
		if m.Cluster != cluster || m.WriteIDs {
			continue
		}
		if m.Status != StatusLeft || owner(m.ID) {
			return false
		}
	}
	return true
}
