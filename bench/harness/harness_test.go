package harness

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/magiconair/properties"

	"github.com/dhtkv/dht/bench/noop"
	"github.com/dhtkv/dht/bench/report"
	"github.com/dhtkv/dht/bench/ycsbdb"
)

func TestProps_Workloads(t *testing.T) {
	pr := report.Profile{Records: 1000, Operations: 3000, Threads: 4, FieldCount: 10, FieldLength: 100}
	proportions := []string{"readproportion", "updateproportion", "insertproportion", "scanproportion", "readmodifywriteproportion"}
	for _, id := range append([]string{LoadID}, WorkloadIDs()...) {
		t.Run(id, func(t *testing.T) {
			props, err := Props(id, pr)
			if err != nil {
				t.Fatal(err)
			}
			if id == LoadID {
				if props["dotransactions"] != "false" {
					t.Error("the load phase must insert, not run transactions")
				}
				return
			}
			sum := 0.0
			for _, k := range proportions {
				v, err := strconv.ParseFloat(props[k], 64)
				if err != nil {
					t.Fatalf("%s = %q: every proportion must be set, or go-ycsb's defaults leak in", k, props[k])
				}
				sum += v
			}
			if sum != 1 {
				t.Errorf("proportions sum to %v, want 1", sum)
			}
			want := "zipfian"
			if id == "d" {
				want = "latest"
			}
			if got := props["requestdistribution"]; got != want {
				t.Errorf("requestdistribution = %q, want %q", got, want)
			}
			if want == "zipfian" && props["insertcount"] != "999" {
				t.Errorf("insertcount = %q, want 999 so that the zipfian range is the 1000 loaded records", props["insertcount"])
			}
		})
	}
	if _, err := Props("e", pr); err == nil {
		t.Error("workload E (scans) is not supported, but Props accepted it")
	}
}

// TestRunWorkload runs the load and workload A through go-ycsb against the
// no-op server in process.
func TestRunWorkload(t *testing.T) {
	srv := httptest.NewServer(noop.New(10, 100))
	defer srv.Close()
	pr := report.Profile{Records: 50, Operations: 200, Threads: 4, FieldCount: 10, FieldLength: 100}
	for _, id := range []string{LoadID, "a"} {
		props, err := Props(id, pr)
		if err != nil {
			t.Fatal(err)
		}
		props[ycsbdb.DHTEndpoints] = srv.URL
		db, err := ycsbdb.NewDHT(properties.LoadMap(props))
		if err != nil {
			t.Fatal(err)
		}
		run, err := RunWorkload(context.Background(), db, props, 0, t.TempDir(), nil)
		_ = db.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := pr.Operations
		if id == LoadID {
			want = pr.Records
		}
		if run.Ops != want || run.Seconds <= 0 {
			t.Errorf("%s: %d ops in %vs, want %d", id, run.Ops, run.Seconds, want)
		}
		if len(run.Errors) != 0 {
			t.Errorf("%s: errors %v", id, run.Errors)
		}
		var counted int64
		for _, op := range []string{"READ", "UPDATE", "INSERT"} {
			counted += run.PerOp[op].Count
		}
		if counted != want {
			t.Errorf("%s: per-operation counts %v add up to %d, want %d", id, run.PerOp, counted, want)
		}
		if run.PerOp[report.TotalOp].Count == 0 || run.PerOp[report.TotalOp].P99Us <= 0 {
			t.Errorf("%s: no TOTAL latency: %v", id, run.PerOp)
		}
	}
}

func TestRunWorkload_TooFewOperations(t *testing.T) {
	props, err := Props("a", report.Profile{Records: 10, Operations: 2, Threads: 4, FieldCount: 10, FieldLength: 100})
	if err != nil {
		t.Fatal(err)
	}
	// go-ycsb would exit the process; RunWorkload refuses first.
	if _, err := RunWorkload(context.Background(), nil, props, 0, t.TempDir(), nil); err == nil {
		t.Fatal("2 operations for 4 threads accepted")
	}
}

func TestReadMeasurement(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	body := `[{"Operation":"READ","Takes(s)":"1.0","Count":"10","OPS":"10.0","Avg(us)":"120","Min(us)":"50","Max(us)":"900","50th(us)":"100","90th(us)":"200","95th(us)":"300","99th(us)":"800","99.9th(us)":"900","99.99th(us)":"900"}]`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readMeasurement(path)
	if err != nil {
		t.Fatal(err)
	}
	want := report.OpStats{Count: 10, AvgUs: 120, P50Us: 100, P99Us: 800, P999Us: 900}
	if got["READ"] != want {
		t.Fatalf("got %+v, want %+v", got["READ"], want)
	}
}

func TestReadRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	r, ok := readRSS(os.Getpid())
	if !ok || r.total <= 0 || r.anon <= 0 || r.file <= 0 {
		t.Fatalf("readRSS of this process = %+v, %v", r, ok)
	}
	// The kernel's RssAnon + RssFile + RssShmem is VmRSS; the two reads
	// are of one /proc snapshot.
	if r.anon+r.file != r.total {
		t.Errorf("anonymous %d + file-backed %d != total %d", r.anon, r.file, r.total)
	}
}

func TestNewSystem_Known(t *testing.T) {
	ids := append(slices.Clone(SystemIDs), ExtraSystemIDs...)
	labels := map[string]string{}
	for _, id := range ids {
		s, err := NewSystem(id, Binaries{}, 10, 100, false)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		info := s.Info()
		if info.ID != id {
			t.Errorf("%s: Info().ID = %q", id, info.ID)
		}
		if other, dup := labels[info.Label]; dup {
			t.Errorf("%s and %s share the label %q", id, other, info.Label)
		}
		labels[info.Label] = id
		if info.Baseline != "" && !slices.Contains(ids, info.Baseline) {
			t.Errorf("%s: baseline %q is no system", id, info.Baseline)
		}
	}
	// make bench says what a blind update and TLS cost: both variants run
	// by default, right after their baseline.
	i := slices.Index(SystemIDs, "dht-n3")
	if i < 0 || i+2 >= len(SystemIDs) || SystemIDs[i+1] != "dht-n3-lww" || SystemIDs[i+2] != "dht-n3-tls" {
		t.Errorf("SystemIDs %v: want dht-n3-lww and dht-n3-tls right after dht-n3", SystemIDs)
	}
	if _, err := NewSystem("dht-n9", Binaries{}, 10, 100, false); err == nil {
		t.Error("an unknown system was made")
	}
}

// TestDHTSystem_LWW checks what the lww variant changes against its
// baseline: the servers' resolution of the YCSB table and the binding's
// blind updates, and nothing else.
func TestDHTSystem_LWW(t *testing.T) {
	mk := func(id string) *dhtSystem {
		s, err := NewSystem(id, Binaries{}, 10, 100, false)
		if err != nil {
			t.Fatal(err)
		}
		return s.(*dhtSystem)
	}
	lww, base := mk("dht-n3-lww"), mk("dht-n3")
	if lww.Info().Baseline != "dht-n3" {
		t.Errorf("baseline %q, want dht-n3", lww.Info().Baseline)
	}
	if !strings.HasPrefix(lwwBucket, table+":=") || !strings.HasSuffix(lwwBucket, "=lww") {
		t.Errorf("bucket %q: want the YCSB table's row keys (%q) resolved by lww", lwwBucket, table+":")
	}
	_, props := lww.Binding()
	if props[ycsbdb.DHTBlindUpdates] != "true" {
		t.Errorf("binding properties %v: want %s=true", props, ycsbdb.DHTBlindUpdates)
	}
	if _, props := base.Binding(); props[ycsbdb.DHTBlindUpdates] != "" {
		t.Errorf("dht-n3's binding has %s", ycsbdb.DHTBlindUpdates)
	}
	lww.id, lww.lww, lww.baseline = base.id, false, ""
	if !reflect.DeepEqual(lww, base) {
		t.Errorf("dht-n3-lww differs from dht-n3 by more than lww:\n%+v\n%+v", *lww, *base)
	}
}

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 are utime and stime in USER_HZ ticks.
	tail := " S 1 1 1 0 -1 4194560 500 0 0 0 250 130 0 0 20 0 12 0 100 1000000 200 18446744073709551615"
	tests := []struct {
		name, stat string
		want       time.Duration
		ok         bool
	}{
		{"plain", "4242 (dhtd)" + tail, 3800 * time.Millisecond, true},
		{"name with spaces and parentheses", "4242 (a (b) c)" + tail, 3800 * time.Millisecond, true},
		{"truncated", "4242 (dhtd) S 1 1 1", 0, false},
		{"no name", "4242 dhtd" + tail, 0, false},
		{"not a number", "4242 (dhtd) S 1 1 1 0 -1 4194560 500 0 0 0 x 130 0", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseStatCPU(tt.stat)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parseStatCPU = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		if _, ok := procCPU(os.Getpid()); !ok {
			t.Error("procCPU cannot read this process")
		}
	}
}
