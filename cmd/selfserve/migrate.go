package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/selfserve/selfserve/services/kit/kv"
)

// runMigrate copies the bbolt stores of a data directory (DIR/licensing.db,
// DIR/commerce.db, DIR/billing.db: those present) into the services'
// prefixes of an etcd cluster. The services must be stopped (bbolt's file
// lock says so). It refuses to write anything when any of those prefixes
// already holds keys.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("migrate", stderr)
	f.dataDir()
	to := f.String("to", "", "where to copy the stores: etcd")
	f.StringVar(&f.cfg.EtcdEndpoints, "etcd-endpoints", "", "comma-separated host:port of the etcd cluster's members")
	f.DurationVar(&f.cfg.EtcdDialTimeout, "etcd-dial-timeout", kv.DefaultDialTimeout, "how long to wait for the etcd cluster to answer")
	cfg, err := f.parse(args)
	if err != nil {
		return err
	}
	if *to != "etcd" {
		return fmt.Errorf("--to must be etcd, not %q", *to)
	}
	type source struct {
		service string
		db      *bolt.DB
		dst     *kv.Etcd
	}
	var srcs []source
	defer func() {
		for _, s := range srcs {
			s.db.Close()
		}
	}()
	for _, service := range []string{"licensing", "commerce", "billing"} {
		path := filepath.Join(cfg.DataDir, service+".db")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
		if err != nil {
			return fmt.Errorf("%s: %w (is the service still running?)", path, err)
		}
		srcs = append(srcs, source{service: service, db: db})
	}
	if len(srcs) == 0 {
		return fmt.Errorf("no store in %s (licensing.db, commerce.db or billing.db)", cfg.DataDir)
	}
	cli, err := kv.DialEtcd(cfg.etcdEndpoints(), cfg.EtcdDialTimeout)
	if err != nil {
		return err
	}
	defer cli.Close()
	// Every prefix is checked before anything is written.
	for i := range srcs {
		dst, err := kv.OpenEtcd(cli, kv.ServicePrefix(srcs[i].service))
		if err != nil {
			return err
		}
		empty, err := dst.Empty()
		if err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("etcd prefix %s already holds keys: refusing to overwrite it (nothing was copied)", dst.Prefix())
		}
		srcs[i].dst = dst
	}
	for _, s := range srcs {
		start := time.Now()
		n, err := s.dst.Load(s.db, kv.LoadBatch)
		if err != nil {
			return fmt.Errorf("%s: %d keys copied, then: %w", s.service, n, err)
		}
		fmt.Fprintf(stdout, "%s: %d keys copied to %s in %.1fs\n", s.service, n, s.dst.Prefix(), time.Since(start).Seconds())
	}
	return ctx.Err()
}
