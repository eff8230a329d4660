package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/kv/etcdembed"
)

// benchStoreRatio is one load on etcd against the same load on bbolt.
type benchStoreRatio struct {
	Name        string   `json:"name"`
	Concurrency int      `json:"concurrency"`
	OpsRatio    *float64 `json:"opsRatio"`
	P50Ratio    *float64 `json:"p50Ratio"`
	P99Ratio    *float64 `json:"p99Ratio"`
	CPURatio    *float64 `json:"cpuRatio,omitempty"`
}

// runEtcdMain measures the main loads again, with every service on a
// 3-member etcd cluster: `selfserve etcd` children on loopback that fsync
// as a real cluster does, holding the same pre-filled store (written as
// bbolt files, then loaded into the services' prefixes as `selfserve
// migrate` does). The members' CPU counts in the server CPU per operation.
func (b *bencher) runEtcdMain(ctx context.Context) error {
	dir := filepath.Join(b.dir, "etcd")
	b.logf("etcd: pre-filling %d subscriptions", b.s.Size)
	pre, err := benchPrefill(dir, benchPrefillSpec{Subscriptions: b.s.Size}, time.Now().UTC())
	if err != nil {
		return err
	}
	pre.System = "etcd"
	b.report.Prefill = append(b.report.Prefill, pre)
	plan, err := etcdembed.Plan(filepath.Join(dir, "cluster"), 3)
	if err != nil {
		return err
	}
	members := map[string]*benchChild{}
	for _, m := range plan {
		c, err := startBenchChild(b.exe, "etcd/"+m.Name, []string{"etcd", "--name", m.Name, "--data-dir", filepath.Join(dir, "cluster"),
			"--client-addr", m.ClientAddr, "--peer-addr", m.PeerAddr, "--initial-cluster", m.Cluster}, nil)
		if err != nil {
			return err
		}
		b.track(c)
		members[m.Name] = c
	}
	endpoints := etcdembed.Endpoints(plan)
	cli, err := kv.DialEtcd(endpoints, time.Minute)
	if err != nil {
		return err
	}
	defer cli.Close()
	for _, name := range []string{"licensing", "commerce", "billing"} {
		path := filepath.Join(dir, name, name+".db")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			return err
		}
		dst, err := kv.OpenEtcd(cli, kv.ServicePrefix(name))
		if err != nil {
			src.Close()
			return err
		}
		n, err := dst.Load(src, kv.LoadBatch)
		src.Close()
		if err != nil {
			return fmt.Errorf("load %s into etcd: %w", name, err)
		}
		b.logf("etcd: %d keys of %s loaded", n, name)
	}
	sys, err := b.startSystem(ctx, "etcd", dir, "--store", "etcd", "--etcd-endpoints", strings.Join(endpoints, ","))
	if err != nil {
		return err
	}
	sys.dir = "" // no bbolt files to report
	idle := map[string]int64{}
	for name, c := range members {
		sys.pids["etcd-"+name] = c.pid()
		if rss, ok := benchProcRSS(c.pid()); ok {
			idle[name] = rss
		}
	}
	err = b.mainLoads(ctx, sys)
	for _, m := range plan {
		c := members[m.Name]
		b.report.Components = append(b.report.Components, b.component("etcd", "etcd-"+m.Name, c.pid(), idle[m.Name], filepath.Join(m.Dir, "member", "snap", "db")))
		c.stop(10 * time.Second)
	}
	return err
}

// storeRatios compares every load measured on etcd with the same load at
// the same concurrency on the bbolt system of the same run.
func (r *Report) storeRatios() {
	for _, l := range r.Loads {
		if l.System != "etcd" || l.Ops == 0 {
			continue
		}
		base := r.find(l.Name, "small", l.Concurrency)
		if base == nil {
			continue
		}
		sr := benchStoreRatio{Name: l.Name, Concurrency: l.Concurrency, OpsRatio: benchRatio(l.OpsPerSec, base.OpsPerSec),
			P50Ratio: benchRatio(l.P50Ms, base.P50Ms), P99Ratio: benchRatio(l.P99Ms, base.P99Ms)}
		if l.ServerCPUUsPerOp != nil && base.ServerCPUUsPerOp != nil {
			sr.CPURatio = benchRatio(*l.ServerCPUUsPerOp, *base.ServerCPUUsPerOp)
		}
		r.StoreRatios = append(r.StoreRatios, sr)
	}
}

// printStoreRatios writes the etcd-to-bbolt table.
func (r *Report) printStoreRatios(w io.Writer) {
	if len(r.StoreRatios) == 0 {
		return
	}
	fmt.Fprintln(w, "etcd (3 members, fsync) against bbolt, same loads in the same run; CPU counts the etcd members")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "load\tc\tops etcd/bbolt\tp50 etcd/bbolt\tp99 etcd/bbolt\tCPU etcd/bbolt\t")
	for _, s := range r.StoreRatios {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", s.Name, s.Concurrency, benchFmtRatio(s.OpsRatio), benchFmtRatio(s.P50Ratio), benchFmtRatio(s.P99Ratio), benchFmtRatio(s.CPURatio))
	}
	tw.Flush()
	fmt.Fprintln(w)
}
