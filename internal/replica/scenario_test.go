package replica

import (
	"fmt"
	"sort"
	"strings"
)

// request steps the machine with one request, keeping it for later when
// the machine defers it.
func (h *scenario) request(call func() Effects[string]) {
	eff := call()
	if eff.Defer {
		fmt.Fprintln(&h.out, "defer")
		h.deferred = append(h.deferred, call)
		return
	}
	h.carry(eff)
}

// carry prints eff's effects one per line and carries out a synchronous
// write against the store, stepping its outcome in turn.
func (h *scenario) carry(eff Effects[string]) {
	for {
		if eff.Siblings > 0 {
			fmt.Fprintf(&h.out, "siblings %d\n", eff.Siblings)
		}
		next, more := h.write(eff.Write)
		if eff.Reply.Kind != ReplyNone {
			fmt.Fprintf(&h.out, "reply %s\n", formatReply(eff.Reply))
		}
		if eff.Resume {
			fmt.Fprintf(&h.out, "resume: %d deferred\n", len(h.deferred))
			queued := h.deferred
			h.deferred = nil
			for _, call := range queued {
				h.request(call)
			}
		}
		if !more {
			return
		}
		eff = next
	}
}

var writeNames = [...]string{"none", "put", "put-async", "delete", "drop-all"}

func (h *scenario) write(w Write) (Effects[string], bool) {
	if w.Kind == WriteNone {
		return Effects[string]{}, false
	}
	line := fmt.Sprintf("write %s#%d", writeNames[w.Kind], w.ID)
	if w.Key != nil {
		line += " " + string(w.Key)
	}
	if w.Value != nil {
		s, _ := jsonCodec{}.Decode(w.Value)
		line += " " + formatSet(s)
	}
	fmt.Fprintln(&h.out, line)
	if w.Kind == WritePutAsync {
		h.async[w.ID] = w
		return Effects[string]{}, false
	}
	var err error
	switch {
	case h.failWrites:
		err = errInjected
	case w.Kind == WritePut:
		h.store.data[string(w.Key)] = w.Value
	case w.Kind == WriteDelete:
		delete(h.store.data, string(w.Key))
	case w.Kind == WriteDropAll:
		clear(h.store.data)
	}
	return h.m.WriteDone(w.ID, err), true
}

func formatReply(r Reply[string]) string {
	head := r.To
	if r.Op != OpNone {
		head += " " + r.Op.String()
	}
	switch r.Kind {
	case ReplyError:
		codes := [...]string{"none", "storage", "bad_request", "too_many_siblings", "bad_context", "unknown", "not_ready", "expired", "precondition_failed"}
		return fmt.Sprintf("%s error %s: %s", head, codes[r.Code], r.Message)
	case ReplyPut:
		if !r.HasObject {
			return head + " durable"
		}
		if r.Minted {
			return head + " minted " + formatSet(r.Object)
		}
		return head + " " + formatSet(r.Object)
	case ReplyGet:
		return head + " " + formatSet(r.Object)
	case ReplyMerge:
		return head + " ok"
	case ReplyMergeBatch:
		return fmt.Sprintf("%s merged=%d", head, r.Merged)
	case ReplyReap:
		return fmt.Sprintf("%s reaped=%t", head, r.Reaped)
	case ReplyHandoffPull:
		var keys []string
		for _, e := range r.Pull.Entries {
			keys = append(keys, string(e.Key)+"="+formatSet(e.Object))
		}
		return fmt.Sprintf("%s done=%t generation=%d total=%d [%s]", head, r.Pull.Done, r.Pull.Generation, r.Pull.TotalKeys, strings.Join(keys, " "))
	case ReplyBucketKeys:
		var keys []string
		for _, kv := range r.Versions {
			keys = append(keys, string(kv.Key))
		}
		return fmt.Sprintf("%s bucket keys [%s]", head, strings.Join(keys, " "))
	case ReplyTombstones:
		var keys []string
		for _, k := range r.Keys {
			keys = append(keys, string(k))
		}
		return fmt.Sprintf("%s tombstones [%s]", head, strings.Join(keys, " "))
	case ReplyMerkle:
		return fmt.Sprintf("%s merkle %d hashes, fanout %d", head, len(r.Hashes), r.Shape.Fanout)
	case ReplyDropped:
		if r.Dropped.Err != nil {
			return fmt.Sprintf("%s dropped err=%v", head, r.Dropped.Err)
		}
		return fmt.Sprintf("%s dropped done=%t keys=%d", head, r.Dropped.Done, r.Dropped.Keys)
	}
	return head + " ?"
}

// state prints the machine's counters and the store's contents.
func (h *scenario) state() {
	fmt.Fprintf(&h.out, "generation=%d pending=%d keys=%d\n", h.m.Generation(), h.m.Pending(), h.m.Len())
	keys := make([]string, 0, len(h.store.data))
	for k := range h.store.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s, err := jsonCodec{}.Decode(h.store.data[k])
		if err != nil {
			fmt.Fprintf(&h.out, "stored %s: corrupt\n", k)
			continue
		}
		fmt.Fprintf(&h.out, "stored %s %s\n", k, formatSet(s))
	}
}
