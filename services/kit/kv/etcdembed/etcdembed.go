// Package etcdembed runs etcd members inside a Go process
// (go.etcd.io/etcd/server/v3/embed) on loopback: the clusters of the tests
// and of `selfserve etcd`, with the limits the etcd store needs.
package etcdembed

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// MaxTxnOps and MaxRequestBytes are what a selfserve cluster must allow (the
// etcd defaults are 128 and 1.5 MiB): a take-over moves every assignment of
// a subscription in one transaction. The compose file sets the same.
const (
	MaxTxnOps       = 10000
	MaxRequestBytes = 16 << 20
)

// Member is how to start one member of a cluster.
type Member struct {
	Name       string // m0
	Dir        string // its data directory
	ClientAddr string // 127.0.0.1:port
	PeerAddr   string // 127.0.0.1:port
	// Cluster is every member's name=http://peer, comma-separated.
	Cluster string
	// Log is where the member logs (default: DIR.log beside its directory).
	Log string
	// NoFsync trades durability for speed (tests only).
	NoFsync bool
}

// Config is the embed configuration of a member.
func (m Member) Config() (*embed.Config, error) {
	cfg := embed.NewConfig()
	cfg.Name = m.Name
	cfg.Dir = m.Dir
	cu, err := url.Parse("http://" + m.ClientAddr)
	if err != nil {
		return nil, err
	}
	pu, err := url.Parse("http://" + m.PeerAddr)
	if err != nil {
		return nil, err
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = m.Cluster
	cfg.InitialClusterToken = "selfserve"
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{m.Dir + ".log"}
	if m.Log != "" {
		cfg.LogOutputs = []string{m.Log}
	}
	cfg.MaxTxnOps = MaxTxnOps
	cfg.MaxRequestBytes = MaxRequestBytes
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "5m"
	cfg.UnsafeNoFsync = m.NoFsync
	// Loopback: a quicker heartbeat than the default's 100 ms, so that a
	// dead leader is replaced within a second.
	cfg.TickMs = 50
	cfg.ElectionMs = 500
	return cfg, nil
}

// Start starts a member and waits until it serves (it needs a quorum of
// the cluster started too) or timeout passes.
func (m Member) Start(timeout time.Duration) (*embed.Etcd, error) {
	if err := os.MkdirAll(filepath.Dir(m.Dir), 0o700); err != nil {
		return nil, err
	}
	cfg, err := m.Config()
	if err != nil {
		return nil, err
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd member %s: %w", m.Name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd member %s: %w", m.Name, err)
	case <-time.After(timeout):
		e.Close()
		return nil, fmt.Errorf("etcd member %s: not ready within %s", m.Name, timeout)
	}
}

// Plan lays out an n-member cluster on free loopback ports, with its data
// under dir/NAME.
func Plan(dir string, n int) ([]Member, error) {
	if n < 1 {
		return nil, errors.New("a cluster needs a member")
	}
	ports, err := FreePorts(2 * n)
	if err != nil {
		return nil, err
	}
	ms := make([]Member, n)
	var cluster []string
	for i := range ms {
		ms[i] = Member{
			Name:       fmt.Sprintf("m%d", i),
			Dir:        filepath.Join(dir, fmt.Sprintf("m%d", i)),
			ClientAddr: fmt.Sprintf("127.0.0.1:%d", ports[2*i]),
			PeerAddr:   fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]),
		}
		cluster = append(cluster, ms[i].Name+"=http://"+ms[i].PeerAddr)
	}
	for i := range ms {
		ms[i].Cluster = strings.Join(cluster, ",")
	}
	return ms, nil
}

// Endpoints lists the members' client addresses.
func Endpoints(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ClientAddr)
	}
	return out
}

// FreePorts finds n free TCP ports on 127.0.0.1.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Cluster is members running in this process.
type Cluster struct {
	Members []Member
	Etcds   []*embed.Etcd
}

// StartCluster starts an n-member cluster in this process.
func StartCluster(dir string, n int, noFsync bool) (*Cluster, error) {
	ms, err := Plan(dir, n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Members: ms, Etcds: make([]*embed.Etcd, n)}
	errc := make(chan error, n)
	for i := range ms {
		ms[i].NoFsync = noFsync
		go func() {
			e, err := ms[i].Start(30 * time.Second)
			c.Etcds[i] = e
			errc <- err
		}()
	}
	var errs []error
	for range ms {
		errs = append(errs, <-errc)
	}
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Endpoints lists the cluster's client addresses.
func (c *Cluster) Endpoints() []string { return Endpoints(c.Members) }

// Stop stops member i.
func (c *Cluster) Stop(i int) {
	if e := c.Etcds[i]; e != nil {
		e.Close()
		c.Etcds[i] = nil
	}
}

// Close stops every member.
func (c *Cluster) Close() {
	for i := range c.Etcds {
		c.Stop(i)
	}
}
