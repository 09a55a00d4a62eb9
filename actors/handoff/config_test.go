package handoff

import (
	"testing"
	"time"

	"github.com/dhtkv/dht/config"
)

func TestFromConfig_FillsTheDerivedFields(t *testing.T) {
	c := config.Default()
	c.Node.ID = "node-7"
	c.Handoff.TransferConcurrency = 5
	c.Handoff.TransferBatchKeys = 64
	c.Handoff.TransferBatchBytes = 4096
	c.Handoff.DropDelay = 3 * time.Second
	got := FromConfig(c)
	want := Config{Self: "node-7", Concurrency: 5, BatchKeys: 64, BatchBytes: 4096, DropDelay: 3 * time.Second,
		Interval: time.Second, Timeout: requestTimeout}
	if got.Self != want.Self || got.Concurrency != want.Concurrency || got.BatchKeys != want.BatchKeys ||
		got.BatchBytes != want.BatchBytes || got.DropDelay != want.DropDelay || got.Interval != want.Interval || got.Timeout != want.Timeout {
		t.Errorf("FromConfig = %+v, want %+v", got, want)
	}
	if got.View != nil || got.VnodePID != nil || got.Engine != nil || got.Keys != nil || got.Status != nil || got.OnRetired != nil {
		t.Errorf("FromConfig filled a runtime dependency: %+v", got)
	}
}

func TestFromConfig_MachineGetsTheLimits(t *testing.T) {
	got := FromConfig(config.Default()).machineConfig()
	d := config.Default().Handoff
	if got.Concurrency != d.TransferConcurrency || got.BatchKeys != d.TransferBatchKeys || got.BatchBytes != d.TransferBatchBytes ||
		got.DropDelay != d.DropDelay || got.Timeout != requestTimeout {
		t.Errorf("machine config %+v does not carry the defaults %+v", got, d)
	}
}
