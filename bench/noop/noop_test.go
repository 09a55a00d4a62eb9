package noop

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/magiconair/properties"

	"github.com/dhtkv/dht/bench/ycsbdb"
)

func TestHandler_ServesTheBinding(t *testing.T) {
	srv := httptest.NewServer(New(10, 100))
	defer srv.Close()
	db, err := ycsbdb.NewDHT(properties.LoadMap(map[string]string{ycsbdb.DHTEndpoints: srv.URL}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := db.InitThread(context.Background(), 0, 1)
	rec, err := db.Read(ctx, "usertable", "user1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec) != 10 || len(rec["field9"]) != 100 {
		t.Fatalf("record has %d fields, field9 %d bytes; want 10 and 100", len(rec), len(rec["field9"]))
	}
	if err := db.Update(ctx, "usertable", "user1", map[string][]byte{"field0": []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := db.Insert(ctx, "usertable", "user2", rec); err != nil {
		t.Fatal(err)
	}
}
