package harness

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dhtkv/dht/bench/report"
)

// LoadID is the id of the load phase, which runs before the workloads.
const LoadID = "load"

// table is the YCSB table every workload uses; the bindings store its
// records under "table:key".
const table = "usertable"

// workloadDef is a YCSB core workload: its report entry and the properties
// that make it. go-ycsb's shipped workload files say
// requestdistribution=uniform; these set zipfian (latest for D) explicitly,
// as YCSB's own workload files do.
type workloadDef struct {
	info  report.Workload
	props map[string]string
}

// workloadDefs lists the phases in the order they run on a freshly started
// system: load, then A, B, C, F and D, the order YCSB's documentation gives
// (D last, because it inserts records).
var workloadDefs = []workloadDef{
	{report.Workload{ID: LoadID, Label: "load", Mix: "100 % insert", Ops: []string{"INSERT"}}, nil},
	{report.Workload{ID: "a", Label: "A", Mix: "50 % read, 50 % update", Distribution: "zipfian", Ops: []string{"READ", "UPDATE"}},
		map[string]string{"readproportion": "0.5", "updateproportion": "0.5", "requestdistribution": "zipfian"}},
	{report.Workload{ID: "b", Label: "B", Mix: "95 % read, 5 % update", Distribution: "zipfian", Ops: []string{"READ", "UPDATE"}},
		map[string]string{"readproportion": "0.95", "updateproportion": "0.05", "requestdistribution": "zipfian"}},
	{report.Workload{ID: "c", Label: "C", Mix: "100 % read", Distribution: "zipfian", Ops: []string{"READ"}},
		map[string]string{"readproportion": "1", "requestdistribution": "zipfian"}},
	{report.Workload{ID: "f", Label: "F", Mix: "50 % read, 50 % read-modify-write", Distribution: "zipfian", Ops: []string{"READ", "READ_MODIFY_WRITE"}},
		map[string]string{"readproportion": "0.5", "readmodifywriteproportion": "0.5", "requestdistribution": "zipfian"}},
	{report.Workload{ID: "d", Label: "D", Mix: "95 % read, 5 % insert", Distribution: "latest", Ops: []string{"READ", "INSERT"}},
		map[string]string{"readproportion": "0.95", "insertproportion": "0.05", "requestdistribution": "latest"}},
}

// WorkloadIDs lists the workloads a comparison can run, load excluded.
func WorkloadIDs() []string {
	var ids []string
	for _, w := range workloadDefs[1:] {
		ids = append(ids, w.info.ID)
	}
	return ids
}

func lookupWorkload(id string) (workloadDef, error) {
	for _, w := range workloadDefs {
		if w.info.ID == strings.ToLower(id) {
			return w, nil
		}
	}
	return workloadDef{}, fmt.Errorf("harness: unknown workload %q (known: %s)", id, strings.Join(WorkloadIDs(), ", "))
}

// Props returns the go-ycsb properties of workload id (or LoadID) for
// profile p. The caller adds the binding's and the measurement's.
func Props(id string, p report.Profile) (map[string]string, error) {
	w, err := lookupWorkload(id)
	if err != nil {
		return nil, err
	}
	props := map[string]string{
		"workload":                "core",
		"table":                   table,
		"recordcount":             strconv.FormatInt(p.Records, 10),
		"operationcount":          strconv.FormatInt(p.Operations, 10),
		"threadcount":             strconv.Itoa(p.Threads),
		"fieldcount":              strconv.Itoa(p.FieldCount),
		"fieldlength":             strconv.Itoa(p.FieldLength),
		"fieldlengthdistribution": "constant",
		"readallfields":           "true",
		// Updates carry the whole 1 KiB record, so that etcd's update is
		// one Put; this store's still reads first, for the context.
		"writeallfields": "true",
		"insertorder":    "hashed",
		"dotransactions": strconv.FormatBool(id != LoadID),
		// Errors are counted; printing each would flood the terminal.
		"silence": "true",
		// go-ycsb defaults to 95 % read, 5 % update; every workload names
		// its whole mix.
		"readproportion":            "0",
		"updateproportion":          "0",
		"insertproportion":          "0",
		"scanproportion":            "0",
		"readmodifywriteproportion": "0",
	}
	for k, v := range w.props {
		props[k] = v
	}
	if props["requestdistribution"] == "zipfian" {
		// go-ycsb (like YCSB) sizes the zipfian key range as insertstart +
		// insertcount + expected inserts, inclusive, which is one past the
		// last loaded record. With insertcount one less, the range is
		// exactly the loaded records. insertcount is used by nothing else
		// in a run without inserts.
		props["insertcount"] = strconv.FormatInt(p.Records-1, 10)
	}
	return props, nil
}
