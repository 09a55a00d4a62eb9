// Command cart embeds a store node with a custom server-side resolver: the
// shopping cart of the Dynamo paper, whose concurrent versions are merged by
// set union, so that an item added by one client is never lost to another
// client's concurrent addition.
//
// It starts a standalone in-memory node, makes two concurrent additions to a
// cart (two writes carrying the same context, as two browser tabs would),
// and reads the cart back as one merged value:
//
//	go run ./examples/cart
//
// See README.md for what it shows and for the lossy alternative, lww.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"slices"
	"time"

	"github.com/dhtkv/dht/actors/node"
	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/resolve"
)

// Cart is the stored value of a key under carts/: JSON, with the items in
// no particular order.
type Cart struct {
	Items []string `json:"items"`
}

// contentType is what carts are stored as.
const contentType = "application/json"

// Union is the cart resolver: it merges concurrent carts by set union. No
// addition is ever lost. The price, as the Dynamo paper notes, is that an
// item removed in one version but still present in a concurrent one comes
// back; a cart that must honour removals keeps removed items too (an
// observed-remove set) and subtracts them here.
//
// A sibling that is not a cart is an error, never silently skipped: the
// node then serves every sibling unresolved, and nothing is lost.
func Union(_ []byte, siblings []resolve.Sibling) (resolve.Resolution, error) {
	var items []string
	for i, s := range siblings {
		var c Cart
		if err := json.Unmarshal(s.Value, &c); err != nil {
			return resolve.Resolution{}, fmt.Errorf("sibling %d is not a cart: %w", i, err)
		}
		items = append(items, c.Items...)
	}
	slices.Sort(items)
	merged, err := json.Marshal(Cart{Items: slices.Compact(items)})
	if err != nil {
		return resolve.Resolution{}, err
	}
	return resolve.Resolution{Value: merged, ContentType: contentType}, nil
}

// Resolvers are the resolvers this program registers with its node, by
// the names its config uses.
var Resolvers = map[string]resolve.Resolver{"cart": resolve.Func(Union)}

// Config is a standalone node with its carts/ bucket resolved by Union.
// The rest of the key space keeps the default: every sibling goes to the
// client.
func Config(dataDir string) config.Config {
	cfg := config.Default()
	cfg.Node.ID = "cart-demo"
	cfg.Node.DataDir = dataDir
	cfg.Storage.Engine = "memory"
	cfg.Cluster.GossipListen, cfg.Cluster.RemoteListen = "", "" // standalone
	cfg.Replication.N, cfg.Replication.R, cfg.Replication.W = 1, 1, 1
	cfg.Resolution.Buckets = "carts/=cart"
	return cfg
}

// Start starts a node for cfg with the cart resolver registered, listening
// on a free loopback port, and returns it with a client of it.
func Start(cfg config.Config, resolvers map[string]resolve.Resolver, logger *slog.Logger) (*node.Node, *client.Client, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	n, err := node.Start(node.Options{Config: cfg, HTTPListener: ln, Logger: logger, Resolvers: resolvers})
	if err != nil {
		_ = ln.Close()
		return nil, nil, err
	}
	c, err := client.New("http://" + n.HTTPAddr())
	if err != nil {
		_ = n.Stop(context.Background())
		return nil, nil, err
	}
	return n, c, nil
}

// Add adds item to the cart at key, based on the cart a client read
// earlier (its items and context): the write supersedes exactly what that
// read saw, so an addition made concurrently by someone else survives as a
// sibling.
func Add(ctx context.Context, c *client.Client, key string, seen Cart, seenContext, item string) error {
	next := Cart{Items: append(slices.Clone(seen.Items), item)}
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	_, err = c.Put(ctx, key, b, &client.WriteOptions{Context: seenContext, ContentType: contentType})
	return err
}

// Read returns the cart at key, its context, and how the server resolved
// it. A read that still has several siblings (a resolver failed, or none is
// configured) is an error here; Siblings in the error says how many.
func Read(ctx context.Context, c *client.Client, key string) (Cart, *client.Object, error) {
	obj, err := c.Get(ctx, key, nil)
	if err != nil {
		return Cart{}, nil, err
	}
	switch len(obj.Siblings) {
	case 0:
		return Cart{}, obj, nil
	case 1:
		var cart Cart
		err := json.Unmarshal(obj.Siblings[0].Value, &cart)
		return cart, obj, err
	}
	return Cart{}, obj, &UnresolvedError{Siblings: len(obj.Siblings), Reason: obj.ResolverError}
}

// UnresolvedError is a read that came back with several siblings.
type UnresolvedError struct {
	Siblings int
	// Reason is the server's X-Dht-Resolver-Error, if its resolver failed.
	Reason string
}

func (e *UnresolvedError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("cart has %d unresolved siblings: %s", e.Siblings, e.Reason)
	}
	return fmt.Sprintf("cart has %d unresolved siblings", e.Siblings)
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "cart-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, c, err := Start(Config(dir), Resolvers, logger)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const key = "carts/alice"
	if err := Add(ctx, c, key, Cart{}, "", "bread"); err != nil {
		return err
	}
	cart, obj, err := Read(ctx, c, key)
	if err != nil {
		return err
	}
	fmt.Printf("cart:                 %v\n", cart.Items)

	// Two tabs both read that cart and each add an item: two writes with
	// the same context, so the store keeps both as siblings.
	if err := Add(ctx, c, key, cart, obj.Context, "milk"); err != nil {
		return err
	}
	if err := Add(ctx, c, key, cart, obj.Context, "eggs"); err != nil {
		return err
	}

	merged, obj, err := Read(ctx, c, key)
	if err != nil {
		var u *UnresolvedError
		if errors.As(err, &u) {
			return fmt.Errorf("the server did not resolve the cart: %w", err)
		}
		return err
	}
	fmt.Printf("after two concurrent additions, resolved by %q: %v\n", obj.ResolvedBy, merged.Items)

	// Checking out writes with the merged read's context, which covers both
	// siblings: the cart is one value again.
	if err := Add(ctx, c, key, merged, obj.Context, "tea"); err != nil {
		return err
	}
	final, obj, err := Read(ctx, c, key)
	if err != nil {
		return err
	}
	fmt.Printf("after writing back:   %v (siblings: %d, resolved: %q)\n", final.Items, len(obj.Siblings), obj.ResolvedBy)
	return nil
}
