package vnode_test

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
)

// BenchmarkVnode measures one vnode alone, many requesters at once: puts of
// new keys and reads of written ones, on the memory engine and on badger
// with sync writes (the asynchronous write path).
//
//	go test -run '^$' -bench Vnode -benchtime 20000x ./actors/vnode/
func BenchmarkVnode(b *testing.B) {
	engines := []struct {
		name string
		opts func(dir string) persistence.Options
	}{
		{"memory", func(string) persistence.Options { return persistence.Options{Engine: persistence.EngineMemory} }},
		{"badger-sync", func(dir string) persistence.Options { return persistence.Options{Dir: dir, SyncWrites: true} }},
	}
	for _, e := range engines {
		for _, op := range []string{"put", "get"} {
			b.Run(e.name+"/"+op, func(b *testing.B) {
				opts := e.opts(b.TempDir())
				opts.Logger = slog.New(slog.DiscardHandler)
				engine, err := persistence.Open(opts)
				if err != nil {
					b.Fatal(err)
				}
				defer engine.Close()
				system, pid := benchVnode(b, engine)
				defer system.Shutdown()
				ask := func(env *messages.Envelope) {
					res, err := system.Root.RequestFuture(pid, env, 10*time.Second).Result()
					if err != nil || res.(*messages.Envelope).GetErrorReply() != nil {
						b.Fatalf("%v %v", res, err)
					}
				}
				put := func(i int64) {
					ask(&messages.Envelope{Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{
						Partition: partition, Key: fmt.Appendf(nil, "k%d", i), Value: &messages.Sibling{Value: make([]byte, 100)},
					}}})
				}
				const keys = 1000
				if op == "get" {
					for i := range int64(keys) {
						put(i)
					}
				}
				var n atomic.Int64
				b.SetParallelism(8)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						if op == "put" {
							put(i)
							continue
						}
						ask(&messages.Envelope{Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{
							Partition: partition, Key: fmt.Appendf(nil, "k%d", i%keys),
						}}})
					}
				})
			})
		}
	}
}

func benchVnode(b *testing.B, engine persistence.Engine) (*actor.ActorSystem, *actor.PID) {
	minter, _, err := vnode.OpenMinter(engine, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	pid, err := system.Root.SpawnNamed(vnode.Props(vnode.Config{
		Partition: partition, Engine: engine, Minter: minter, CacheBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler),
	}), vnode.Name(partition))
	if err != nil {
		b.Fatal(err)
	}
	return system, pid
}
