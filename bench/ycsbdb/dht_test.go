package ycsbdb

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/magiconair/properties"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/cluster/certs"
)

// fakeNode is a node holding one key with siblings until a write with the
// context it handed out replaces them.
type fakeNode struct {
	mu       sync.Mutex
	siblings [][]byte
	gets     int
	puts     []http.Header
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set(client.HeaderContext, "ctx-1")
	switch r.Method {
	case http.MethodGet:
		f.gets++
		switch len(f.siblings) {
		case 0:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"not found"}`)
		case 1:
			_, _ = w.Write(f.siblings[0])
		default:
			type sib struct {
				Value       string `json:"value"`
				ContentType string `json:"content_type"`
			}
			var body struct {
				Siblings []sib `json:"siblings"`
			}
			for _, s := range f.siblings {
				body.Siblings = append(body.Siblings, sib{base64.StdEncoding.EncodeToString(s), contentType})
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMultipleChoices)
			_ = json.NewEncoder(w).Encode(body)
		}
	case http.MethodPut:
		b, _ := io.ReadAll(r.Body)
		f.puts = append(f.puts, r.Header.Clone())
		if r.Header.Get(client.HeaderContext) == "ctx-1" {
			f.siblings = [][]byte{b}
		} else {
			f.siblings = append(f.siblings, b)
		}
		w.Header().Set(client.HeaderSiblings, "1")
		w.WriteHeader(http.StatusNoContent)
	}
}

func newTestDHT(t *testing.T, h http.Handler) *DHT {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	db, err := NewDHT(properties.LoadMap(map[string]string{DHTEndpoints: srv.URL}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestDHT_UpdateResolvesSiblings(t *testing.T) {
	f := &fakeNode{siblings: [][]byte{
		EncodeRecord(map[string][]byte{"field0": []byte("a")}),
		EncodeRecord(map[string][]byte{"field1": []byte("b")}),
	}}
	db := newTestDHT(t, f)
	ctx := db.InitThread(context.Background(), 0, 1)

	if err := db.Update(ctx, "t", "k", map[string][]byte{"field2": []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if len(f.puts) != 1 || f.puts[0].Get(client.HeaderContext) != "ctx-1" {
		t.Fatalf("the update's write did not carry the read's context: %v", f.puts)
	}
	rec, err := db.Read(ctx, "t", "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"field0": "a", "field1": "b", "field2": "c"} {
		if string(rec[k]) != v {
			t.Fatalf("after the update %s = %q, want %q (record %q)", k, rec[k], v, rec)
		}
	}
	if s := db.Stats(); s.SiblingReads != 1 {
		t.Fatalf("stats %+v: want 1 sibling read", s)
	}
}

func TestDHT_UpdateAfterReadUsesItsContext(t *testing.T) {
	f := &fakeNode{siblings: [][]byte{EncodeRecord(map[string][]byte{"field0": []byte("a")})}}
	db := newTestDHT(t, f)
	ctx := db.InitThread(context.Background(), 0, 1)

	if _, err := db.Read(ctx, "t", "k", nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, "t", "k", map[string][]byte{"field0": []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if f.gets != 1 {
		t.Fatalf("%d GETs, want 1: the update should use the read's context", f.gets)
	}
	// A second update has no read right before it: it reads again.
	if err := db.Update(ctx, "t", "k", map[string][]byte{"field0": []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if f.gets != 2 {
		t.Fatalf("%d GETs, want 2", f.gets)
	}
	if s := db.Stats(); s.CachedContexts != 1 {
		t.Fatalf("stats %+v: want 1 cached context", s)
	}
}

func TestDHT_ReadNotFound(t *testing.T) {
	db := newTestDHT(t, &fakeNode{})
	ctx := db.InitThread(context.Background(), 0, 1)
	if _, err := db.Read(ctx, "t", "k", nil); !IsNotFound(err) {
		t.Fatalf("err = %v, want not found", err)
	}
	// Insert is a blind write.
	if err := db.Insert(ctx, "t", "k", map[string][]byte{"field0": []byte("x")}); err != nil {
		t.Fatal(err)
	}
	rec, err := db.Read(ctx, "t", "k", []string{"field0"})
	if err != nil || string(rec["field0"]) != "x" {
		t.Fatalf("read after insert: %q, %v", rec, err)
	}
}

func TestDHT_ThreadsSpreadOverEndpoints(t *testing.T) {
	var hits [3]int
	var mu sync.Mutex
	var urls []string
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[i]++
			mu.Unlock()
			w.WriteHeader(http.StatusNotFound)
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	db, err := NewDHT(properties.LoadMap(map[string]string{DHTEndpoints: strings.Join(urls, ",")}))
	if err != nil {
		t.Fatal(err)
	}
	for thread := range 6 {
		_, _ = db.Read(db.InitThread(context.Background(), thread, 6), "t", "k", nil)
	}
	if hits != [3]int{2, 2, 2} {
		t.Fatalf("hits per endpoint %v, want 2 each", hits)
	}
}

// newTLSNode serves h over HTTPS with HTTP/2 offered, and returns its URL
// and a file holding the certificate that verifies it.
func newTLSNode(t *testing.T, h http.Handler) (url, caFile string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL, caFile
}

func TestDHT_HTTPS(t *testing.T) {
	var (
		mu     sync.Mutex
		protos []int
	)
	f := &fakeNode{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.ProtoMajor)
		mu.Unlock()
		f.ServeHTTP(w, r)
	})
	url, ca := newTLSNode(t, h)
	for _, tc := range []struct {
		name  string
		http2 string
		want  int
	}{
		{"default HTTP/1.1", "", 1},
		{"http2", "true", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props := map[string]string{DHTEndpoints: url, DHTCACert: ca}
			if tc.http2 != "" {
				props[DHTHTTP2] = tc.http2
			}
			db, err := NewDHT(properties.LoadMap(props))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			mu.Lock()
			protos = nil
			mu.Unlock()
			ctx := db.InitThread(context.Background(), 0, 1)
			if err := db.Insert(ctx, "t", "k", map[string][]byte{"field0": []byte("x")}); err != nil {
				t.Fatal(err)
			}
			rec, err := db.Read(ctx, "t", "k", nil)
			if err != nil || string(rec["field0"]) != "x" {
				t.Fatalf("read after insert over https: %q, %v", rec, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range protos {
				if p != tc.want {
					t.Fatalf("requests went over HTTP/%v, want HTTP/%d", protos, tc.want)
				}
			}
		})
	}
}

func TestDHT_HTTPSUnknownCA(t *testing.T) {
	url, _ := newTLSNode(t, &fakeNode{})
	ca, err := certs.NewAuthority("another CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(otherCA, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, ca string }{
		{"system roots", ""},
		{"another CA", otherCA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := NewDHT(properties.LoadMap(map[string]string{DHTEndpoints: url, DHTCACert: tc.ca}))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.Insert(db.InitThread(context.Background(), 0, 1), "t", "k", map[string][]byte{"field0": []byte("x")})
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) {
				t.Fatalf("err = %v, want the node's certificate refused as signed by an unknown authority", err)
			}
		})
	}
}

func TestNewDHT_BadCACert(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ca := range []string{filepath.Join(t.TempDir(), "missing.pem"), empty} {
		_, err := NewDHT(properties.LoadMap(map[string]string{DHTEndpoints: "https://127.0.0.1:1", DHTCACert: ca}))
		if err == nil || !strings.Contains(err.Error(), DHTCACert) {
			t.Errorf("CA file %s: err = %v, want one naming %s", ca, err, DHTCACert)
		}
	}
}

func TestDHT_BlindUpdates(t *testing.T) {
	whole := map[string][]byte{"field0": []byte("x"), "field1": []byte("y")}
	for _, tc := range []struct {
		name string
		// readFirst makes the update follow a read of its key, as in
		// workload F's read-modify-write.
		readFirst bool
		values    map[string][]byte
		blind     string
		wantGets  int
		wantCtx   string
	}{
		{"whole record", false, whole, "true", 0, ""},
		{"whole record after a read", true, whole, "true", 1, ""},
		{"partial record reads and merges", false, map[string][]byte{"field0": []byte("x")}, "true", 1, "ctx-1"},
		{"off by default", false, whole, "", 1, "ctx-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeNode{siblings: [][]byte{EncodeRecord(map[string][]byte{"field0": []byte("a"), "field1": []byte("b")})}}
			srv := httptest.NewServer(f)
			defer srv.Close()
			props := map[string]string{DHTEndpoints: srv.URL, "fieldcount": "2"}
			if tc.blind != "" {
				props[DHTBlindUpdates] = tc.blind
			}
			db, err := NewDHT(properties.LoadMap(props))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := db.InitThread(context.Background(), 0, 1)
			if tc.readFirst {
				if _, err := db.Read(ctx, "t", "k", nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Update(ctx, "t", "k", tc.values); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.gets != tc.wantGets {
				t.Errorf("%d GETs, want %d", f.gets, tc.wantGets)
			}
			if len(f.puts) != 1 {
				t.Fatalf("%d PUTs, want exactly 1", len(f.puts))
			}
			if got := f.puts[0].Get(client.HeaderContext); got != tc.wantCtx {
				t.Errorf("the PUT's context header is %q, want %q", got, tc.wantCtx)
			}
			// Either way the record written is the old one with the new
			// fields over it: the whole record, or the merge.
			want := map[string][]byte{"field0": []byte("a"), "field1": []byte("b")}
			maps.Copy(want, tc.values)
			if got := f.siblings[len(f.siblings)-1]; !bytes.Equal(got, EncodeRecord(want)) {
				t.Errorf("the PUT wrote %q, want %q", got, EncodeRecord(want))
			}
		})
	}
}
