package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv/etcdembed"
)

// runEtcd runs one etcd member in this process (go.etcd.io/etcd/server/v3/embed),
// with the limits the etcd store needs: a loopback cluster for trying
// --store etcd, and the members the tests and the bench start and kill.
// Production runs the official etcd image (docker-compose.yaml).
func runEtcd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("etcd", stderr)
	name := f.String("name", "m0", "the member's name")
	dir := f.String("data-dir", "etcd-data", "directory of the member's data (the member's own subdirectory NAME is made in it)")
	client := f.String("client-addr", "127.0.0.1:2379", "address clients reach the member at")
	peer := f.String("peer-addr", "127.0.0.1:2380", "address the other members reach it at")
	cluster := f.String("initial-cluster", "", "every member as NAME=http://PEER_ADDR, comma-separated (default: this member alone)")
	noFsync := f.Bool("unsafe-no-fsync", false, "never fsync (tests only: a crash of the machine loses data)")
	if _, err := f.parse(args); err != nil {
		return err
	}
	m := etcdembed.Member{Name: *name, Dir: filepath.Join(*dir, *name), ClientAddr: *client, PeerAddr: *peer,
		Cluster: *cluster, NoFsync: *noFsync, Log: filepath.Join(*dir, *name+".log")}
	if m.Cluster == "" {
		m.Cluster = m.Name + "=http://" + m.PeerAddr
	}
	e, err := m.Start(time.Minute)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "etcd member %s serving clients at %s (log %s)\n", m.Name, m.ClientAddr, m.Log)
	select {
	case <-ctx.Done():
	case err = <-e.Err():
	}
	e.Close()
	return err
}
