package vnode_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/wire"
)

func openPebble(t *testing.T) persistence.Engine {
	t.Helper()
	e, err := persistence.Open(persistence.Options{Engine: persistence.EnginePebble, Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func (h *harness) list(prefix, after string, limit uint32, values bool) *messages.ListReply {
	h.t.Helper()
	r := h.ask(&messages.Envelope{Body: &messages.Envelope_ListRequest{ListRequest: &messages.ListRequest{
		Partition: partition, Prefix: []byte(prefix), AfterKey: []byte(after), Limit: limit, WithValues: values,
	}}})
	if r.GetListReply() == nil {
		h.t.Fatalf("list: %v", r)
	}
	return r.GetListReply()
}

// A vnode lists its partition's live keys in key order from the engine's
// ordered scan, page by page, on every engine; deleted keys are not listed.
func TestVnode_ListsLiveKeysInOrder(t *testing.T) {
	for _, engine := range []struct {
		name string
		open func(*testing.T) persistence.Engine
	}{{"memory", openMemory}, {"badger sync writes", openSyncBadger}, {"pebble", openPebble}} {
		t.Run(engine.name, func(t *testing.T) {
			h := startVnode(t, engine.open(t))
			for _, k := range []string{"user/3", "user/1", "item/1", "user/2", "zz"} {
				h.put(k, "v-"+k, nil)
			}
			gone := h.put("user/2", "again", nil).GetPutReply().GetObject()
			vv, err := wire.VVFromProto(gone.GetContext())
			if err != nil {
				t.Fatal(err)
			}
			h.ask(&messages.Envelope{Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{
				Partition: partition, Key: []byte("user/2"), Context: wire.VVToProto(vv), Value: &messages.Sibling{Tombstone: true},
			}}})

			keys := func(r *messages.ListReply) string {
				var out []string
				for _, e := range r.GetEntries() {
					out = append(out, string(e.GetKey()))
				}
				return strings.Join(out, ",")
			}
			for _, tc := range []struct {
				name, prefix, after string
				limit               uint32
				want                string
				more                bool
			}{
				{"all", "", "", 100, "item/1,user/1,user/3,zz", false},
				{"first page", "", "", 2, "item/1,user/1", true},
				{"next page", "", "user/1", 2, "user/3,zz", false},
				{"prefix", "user/", "", 100, "user/1,user/3", false},
				{"prefix paged", "user/", "user/1", 100, "user/3", false},
			} {
				r := h.list(tc.prefix, tc.after, tc.limit, false)
				if got := keys(r); got != tc.want || r.GetMore() != tc.more {
					t.Errorf("%s: %q more=%t, want %q more=%t", tc.name, got, r.GetMore(), tc.want, tc.more)
				}
			}
			r := h.list("zz", "", 10, true)
			if len(r.GetEntries()) != 1 || string(r.GetEntries()[0].GetObject().GetSiblings()[0].GetValue()) != "v-zz" {
				t.Errorf("with values: %v, want zz and its value", r)
			}
			if r := h.ask(&messages.Envelope{Body: &messages.Envelope_ListRequest{ListRequest: &messages.ListRequest{Partition: partition}}}); r.GetErrorReply().GetCode() != messages.ErrorCode_ERROR_CODE_BAD_REQUEST {
				t.Errorf("a list without a limit: %v, want bad request", r)
			}
		})
	}
}
