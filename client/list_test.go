package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/client/clienttest"
)

func TestClient_ListFollowsCursors(t *testing.T) {
	srv := clienttest.NewServer("")
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var want []string
	for i := range 25 {
		k := fmt.Sprintf("k/%02d", i)
		if _, err := c.Put(ctx, k, []byte("v"+k), nil); err != nil {
			t.Fatal(err)
		}
		want = append(want, k)
	}
	if _, err := c.Put(ctx, "other", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	page, err := c.List(ctx, client.ListOptions{Prefix: "k/", Limit: 10, Values: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Keys) != 10 || page.Cursor == "" || string(page.Keys[0].Siblings[0].Value) != "vk/00" {
		t.Fatalf("first page %+v, want 10 keys with values and a cursor", page)
	}
	pages := 0
	var got []string
	err = c.ListAll(ctx, client.ListOptions{Prefix: "k/", Limit: 10}, func(p client.ListPage) error {
		pages++
		for _, k := range p.Keys {
			got = append(got, k.Key)
		}
		return nil
	})
	if err != nil || pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("ListAll: %d pages, %v, %v; want 3 pages of %v", pages, got, err, want)
	}
	keys, err := c.Keys(ctx, "")
	if err != nil || len(keys) != 26 {
		t.Fatalf("Keys: %v, %v; want 26 keys", keys, err)
	}
	var apiErr *client.Error
	if _, err := c.List(ctx, client.ListOptions{Cursor: "%%"}); !errors.As(err, &apiErr) || apiErr.Code != "bad_cursor" {
		t.Errorf("a corrupt cursor: %v, want bad_cursor", err)
	}
}
