package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/selfserve/selfserve/cmd/selfserve/internal/rawchain"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// benchSettings are the flags of `selfserve bench`.
type benchSettings struct {
	Duration         string   `json:"duration"`
	Warmup           string   `json:"warmup"`
	MaxOps           int      `json:"maxOps"`
	Concurrency      []int    `json:"concurrency"`
	Size             int      `json:"size"`
	Large            bool     `json:"large"`
	LargeSize        int      `json:"largeSize"`
	LargeAssignments int      `json:"largeAssignments"`
	Quick            bool     `json:"quick"`
	Addr             string   `json:"addr,omitempty"`
	Only             []string `json:"only,omitempty"`
	Store            string   `json:"store"`

	duration, warmup time.Duration
	licensingAddr    string
	signingKey       string
	pids             map[string]int
	workDir          string
	keep             bool
}

// Report is everything a run printed; --json prints it as is.
type Report struct {
	Command    string               `json:"command"`
	Host       benchHost            `json:"host"`
	Settings   benchSettings        `json:"settings"`
	Prefill    []benchPrefillResult `json:"prefill"`
	Loads      []benchResult        `json:"loads"`
	Components []benchComponent     `json:"components"`
	// StoreRatios compares each load on etcd with the same load on bbolt.
	StoreRatios []benchStoreRatio `json:"storeRatios,omitempty"`
	Dev         *benchDev         `json:"dev"`
	Targets     []benchGoal       `json:"targets"`
	Notes       []string          `json:"notes"`
}

type benchHost struct {
	CPUs int    `json:"cpus"`
	Go   string `json:"go"`
	OS   string `json:"os"`
}

// benchComponent is one process of a measured system, with its store.
type benchComponent struct {
	System     string   `json:"system"`
	Name       string   `json:"name"`
	PID        int      `json:"pid,omitempty"`
	RSSIdleMB  *float64 `json:"rssIdleMB"`
	RSSAfterMB *float64 `json:"rssAfterMB"`
	DBFile     string   `json:"dbFile,omitempty"`
	DBBytes    int64    `json:"dbBytes,omitempty"`
}

// benchDev is how long `selfserve dev` took to answer /healthz.
type benchDev struct {
	FirstStartSeconds float64 `json:"firstStartSeconds"`
	RestartSeconds    float64 `json:"restartSeconds"`
}

// Run is `selfserve bench`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("bench", stderr)
	s := benchSettings{}
	f.DurationVar(&s.duration, "duration", 5*time.Second, "how long each load runs")
	f.DurationVar(&s.warmup, "warmup", -1, "warm-up before each load, not measured (default: a tenth of --duration, at most 500ms)")
	f.IntVar(&s.MaxOps, "max-ops", 200000, "most operations of one load")
	conc := f.String("concurrency", "", "closed-loop callers of the loads, comma-separated (default 1,16,64; 1,16 with --quick)")
	f.IntVar(&s.Size, "size", 1000, "subscriptions pre-filled for the buyer in the main store")
	f.BoolVar(&s.Large, "large", true, "also measure a large store (--large-size subscriptions, --large-assignments assignments)")
	f.IntVar(&s.LargeSize, "large-size", 100000, "subscriptions of the large store")
	f.IntVar(&s.LargeAssignments, "large-assignments", 1000000, "assignments of the large store")
	f.BoolVar(&s.Quick, "quick", false, "a short run: concurrency 1 and 16, no large store")
	asJSON := f.Bool("json", false, "print one JSON document instead of tables")
	f.StringVar(&s.workDir, "work-dir", "", "where the stores go (default: a new temporary directory, removed afterwards)")
	f.BoolVar(&s.keep, "keep", false, "keep the work directory")
	f.StringVar(&s.Addr, "addr", "", "measure a running system at this gateway URL instead of starting one (no pre-fill, no large store)")
	f.StringVar(&s.licensingAddr, "licensing-addr", "127.0.0.1:9101", "with --addr: address of the running system's licensing gRPC service")
	f.StringVar(&s.signingKey, "signing-key", filepath.Join("data", "signing.key"), "with --addr: the running system's signing key")
	pids := f.String("pids", "", "with --addr: component=pid,... to read their CPU and memory from /proc")
	f.StringVar(&s.Store, "store", "bbolt", "bbolt, or etcd: the main loads also run with every service on a 3-member loopback etcd cluster (selfserve etcd children), with their ratios to bbolt")
	only := f.String("only", "", "run only the loads whose names start with one of these, comma-separated (e.g. purchase,raw-chain)")
	if err := parse(f, args); err != nil {
		return err
	}
	if *conc == "" {
		*conc = "1,16,64"
		if s.Quick {
			*conc = "1,16"
		}
	}
	for _, p := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("--concurrency: %q is not a number from 1 to 1024", p)
		}
		s.Concurrency = append(s.Concurrency, n)
	}
	slices.Sort(s.Concurrency)
	s.Concurrency = slices.Compact(s.Concurrency)
	for _, p := range strings.Split(*only, ",") {
		if p = strings.TrimSpace(p); p != "" {
			s.Only = append(s.Only, p)
		}
	}
	if s.Quick {
		s.Large = false
	}
	switch s.Store {
	case "bbolt":
	case "etcd":
		// The large store is a bbolt measurement; ask for it by name.
		explicit := false
		f.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "large" })
		s.Large = s.Large && explicit
		if s.Addr != "" {
			return errors.New("bench: --store etcd starts its own systems; it does not go with --addr")
		}
	default:
		return fmt.Errorf("bench: --store must be bbolt or etcd, not %q", s.Store)
	}
	if s.Addr != "" {
		s.Large = false
		s.pids = map[string]int{}
		for _, kv := range strings.Split(*pids, ",") {
			if kv == "" {
				continue
			}
			name, v, _ := strings.Cut(kv, "=")
			pid, err := strconv.Atoi(v)
			if err != nil || !slices.Contains(components, name) {
				return fmt.Errorf("--pids: %q is not component=pid", kv)
			}
			s.pids[name] = pid
		}
	}
	if s.warmup < 0 {
		s.warmup = min(s.duration/10, 500*time.Millisecond)
	}
	if s.duration <= 0 || s.MaxOps < 1 || s.Size < 0 || s.LargeSize < 0 || s.LargeAssignments < 0 {
		return errors.New("bench: --duration, --max-ops must be positive; sizes must not be negative")
	}
	s.Duration, s.Warmup = s.duration.String(), s.warmup.String()

	b := &bencher{s: s, log: stderr, http: newBenchHTTP(), lim: benchLimits{duration: s.duration, warmup: s.warmup, maxOps: s.MaxOps}, metricsByPID: map[int]string{}}
	b.report = Report{Command: strings.TrimSpace("selfserve bench " + strings.Join(args, " ")), Settings: s,
		Host: benchHost{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}}
	defer b.stopAll()
	if err := b.run(ctx); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(b.report)
	}
	b.report.Print(stdout)
	return nil
}

// bencher runs one bench.
type bencher struct {
	s      benchSettings
	log    io.Writer
	http   *benchHTTP
	lim    benchLimits
	report Report
	exe    string
	dir    string
	key    string
	signer *auth.Signer
	runID  string // a random id that keeps request ids of this run apart

	mu       sync.Mutex
	children []*benchChild
	// metricsByPID is the /metrics URL of each component the bench started.
	metricsByPID map[int]string
}

func (b *bencher) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

func (b *bencher) track(c *benchChild) {
	b.mu.Lock()
	b.children = append(b.children, c)
	b.mu.Unlock()
}

// stopAll stops every child still running, gateways first.
func (b *bencher) stopAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.children) - 1; i >= 0; i-- {
		b.children[i].stop(10 * time.Second)
	}
	b.children = nil
	if b.dir != "" && b.s.workDir == "" && !b.s.keep {
		os.RemoveAll(b.dir)
	}
}

func (b *bencher) run(ctx context.Context) error {
	var err error
	if b.exe, err = os.Executable(); err != nil {
		return err
	}
	id := make([]byte, 4)
	rand.Read(id)
	b.runID = hex.EncodeToString(id)
	if b.s.workDir != "" {
		b.dir = b.s.workDir
		err = os.MkdirAll(b.dir, 0o700)
	} else {
		b.dir, err = os.MkdirTemp("", "selfserve-bench-")
	}
	if err != nil {
		return err
	}
	if b.s.Addr != "" {
		b.key = b.s.signingKey
	} else {
		b.key = filepath.Join(b.dir, "signing.key")
	}
	key, err := auth.LoadOrCreateKey(b.key)
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	if b.signer, err = auth.NewSigner(key); err != nil {
		return err
	}
	if b.s.Addr != "" {
		// The reference signs with a key of its own: the running system's
		// key stays where it is.
		b.key = filepath.Join(b.dir, "signing.key")
		if _, err := auth.LoadOrCreateKey(b.key); err != nil {
			return err
		}
	}
	if err := b.runRaw(ctx); err != nil {
		return fmt.Errorf("raw reference: %w", err)
	}
	if err := b.runMain(ctx); err != nil {
		return err
	}
	if b.s.Store == "etcd" {
		if err := b.runEtcdMain(ctx); err != nil {
			return fmt.Errorf("etcd: %w", err)
		}
	}
	if b.s.Large {
		if err := b.runLarge(ctx); err != nil {
			return fmt.Errorf("large store: %w", err)
		}
	}
	if err := b.runDev(ctx); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	b.report.ratios()
	b.report.storeRatios()
	b.report.goals(b.s)
	b.report.Notes = append(b.report.Notes,
		"assign loads: one operation is an assign and an unassign of the caller's own user (two requests, two durable commits); the raw chain does the same",
		"ratios: to the raw chain at the same concurrency, per operation for assign cycles, per request for every other load",
		"CPU: user+system time of the serving processes (not the load generator) from /proc, in 10 ms ticks, per operation",
		"bbolt-update/local: plain bbolt in the bench's own process, one db.Update (one commit, its fsyncs) of one key an operation, its CPU the bench process's: the disk's bound on a chain of durable commits; the raw chain and the services share commits between callers, so they can pass it",
		"raw-chain-purchase/json: the purchase's shape with no logic, in the raw chain's process: HTTP, a commit, a call that commits in a second file, a call that commits in a third, a last commit; what a purchase cannot go below on this machine",
		"raw-chain-list/json: the list's shape with no logic: a page of 50 subscriptions read from a file, their pools read from another over a call, written by grpc-gateway's protojson marshaler")
	return nil
}

// concAll, concEnds and concMid are the concurrencies a kind of load runs
// at: every one, the lowest and the highest, or the lowest and a middle one
// (16 when measured) for the heavy reads.
func (b *bencher) concAll() []int { return b.s.Concurrency }

func (b *bencher) concEnds() []int {
	c := b.s.Concurrency
	if len(c) == 1 {
		return c
	}
	return []int{c[0], c[len(c)-1]}
}

func (b *bencher) concMid() []int {
	c := b.s.Concurrency
	mid := c[len(c)-1]
	if slices.Contains(c, 16) {
		mid = 16
	}
	if mid == c[0] {
		return []int{mid}
	}
	return []int{c[0], mid}
}

func (b *bencher) maxConc() int { return b.s.Concurrency[len(b.s.Concurrency)-1] }

// measure runs one load and records it.
func (b *bencher) measure(ctx context.Context, l benchLoad) {
	if ctx.Err() != nil || !b.selected(l.name) {
		return
	}
	if l.metrics == nil {
		l.metrics = b.metricsOf(l.procs)
	}
	r := l.run(ctx, b.lim)
	cpu := "?"
	if r.ServerCPUUsPerOp != nil {
		cpu = fmt.Sprintf("%.0f", *r.ServerCPUUsPerOp)
	}
	b.logf("%-26s %-5s c=%-3d %8.0f ops/s  p50 %6.2f ms  p99 %6.2f ms  errors %d  cpu %s µs/op", r.Name, r.System, r.Concurrency, r.OpsPerSec, r.P50Ms, r.P99Ms, r.Errors, cpu)
	if r.FirstError != "" {
		b.logf("  first error: %s", r.FirstError)
	}
	b.report.Loads = append(b.report.Loads, r)
}

// metricsOf is the /metrics URL of each of procs that the bench started
// with --metrics-addr; nil unless it knows them all.
func (b *bencher) metricsOf(procs map[string]int) map[string]string {
	out := map[string]string{}
	for name, pid := range procs {
		if name == "gateway" {
			continue // no store
		}
		url, ok := b.metricsByPID[pid]
		if !ok {
			return nil
		}
		out[name] = url
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// selected tells whether --only lets a load run.
func (b *bencher) selected(name string) bool {
	if len(b.s.Only) == 0 {
		return true
	}
	for _, p := range b.s.Only {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// runRaw starts the reference in its own process and measures it.
func (b *bencher) runRaw(ctx context.Context) error {
	dir := filepath.Join(b.dir, "raw")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	line := &benchFirstLine{ch: make(chan string, 1)}
	c, err := startBenchChild(b.exe, "raw", []string{"bench-raw", "--dir", dir, "--signing-key", b.key}, line)
	if err != nil {
		return err
	}
	b.track(c)
	var addrs rawchain.Addrs
	select {
	case l := <-line.ch:
		if err := json.Unmarshal([]byte(l), &addrs); err != nil {
			return fmt.Errorf("bench-raw said %q: %w", l, err)
		}
	case <-c.done:
		_, why := c.exited()
		return errors.New(why)
	case <-time.After(15 * time.Second):
		return errors.New("bench-raw did not start within 15s")
	case <-ctx.Done():
		return ctx.Err()
	}
	idle, _ := benchProcRSS(c.pid())
	op, err := b.signer.OperatorToken(2 * time.Hour)
	if err != nil {
		return err
	}
	rawOp, err := b.rawToken()
	if err != nil {
		return err
	}
	users := benchUserNames(b.maxConc())
	cpu := map[string]int{"raw-chain": c.pid()}
	b.logf("raw reference: %s (front %s, back %s), echo %s, interceptor chain %s", addrs.HTTP, addrs.Front, addrs.Back, addrs.Echo, addrs.ChainEcho)
	for _, n := range b.concAll() {
		b.measure(ctx, benchLoad{name: "raw-chain/json", system: "raw", conc: n, requests: 2, procs: cpu,
			op: benchCycle(b.http, addrs.HTTP, names.Format(names.License, benchOrg, "raw"), op, users)})
	}
	for _, n := range b.concMid() {
		b.measure(ctx, benchLoad{name: "raw-chain-list/json", system: "raw", conc: n, requests: 1, procs: cpu,
			op: benchGet(b.http, addrs.HTTP+"/v1/organizations/"+rawchain.ListOrg+"/subscriptions?pageSize=50", op)})
	}
	for _, n := range b.concEnds() {
		b.measure(ctx, benchLoad{name: "raw-chain-purchase/json", system: "raw", conc: n, requests: 1, procs: cpu, op: b.rawPurchase(addrs.HTTP, op)})
	}
	for _, target := range []struct{ name, addr string }{{"echo/grpc", addrs.Echo}, {"echo-chain/grpc", addrs.ChainEcho}} {
		conn, err := serve.Dial(target.addr)
		if err != nil {
			return err
		}
		clock := operatorv1.NewClockServiceClient(conn)
		md := metadata.Pairs("authorization", "Bearer "+rawOp)
		for _, n := range b.concEnds() {
			b.measure(ctx, benchLoad{name: target.name, system: "raw", conc: n, requests: 1, procs: cpu,
				op: benchCall(func(ctx context.Context, _ *benchWorker) error {
					_, err := clock.GetClock(metadata.NewOutgoingContext(ctx, md), &operatorv1.GetClockRequest{Name: "clock"})
					return err
				})})
		}
		conn.Close()
	}
	b.report.Components = append(b.report.Components, b.component("raw", "raw-chain", c.pid(), idle, filepath.Join(dir, "raw.db")))
	return b.plainBolt(ctx, dir)
}

// plainBolt measures what bounds every durable load on this disk: bbolt
// alone, in this process, one db.Update of one small key an operation (a
// commit and its fsyncs), with bbolt's default options.
func (b *bencher) plainBolt(ctx context.Context, dir string) error {
	db, err := bolt.Open(filepath.Join(dir, "plain.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	value := make([]byte, 100)
	var seq atomic.Uint64
	for _, n := range b.concEnds() {
		// Its CPU is the bench process's: the load is bbolt in it.
		b.measure(ctx, benchLoad{name: "bbolt-update/local", system: "raw", conc: n, requests: 1, procs: map[string]int{"bench": os.Getpid()},
			op: benchCall(func(context.Context, *benchWorker) error {
				return db.Update(func(tx *bolt.Tx) error {
					bk, err := tx.CreateBucketIfNotExists([]byte("plain"))
					if err != nil {
						return err
					}
					return bk.Put(binary.BigEndian.AppendUint64(nil, seq.Add(1)), value)
				})
			})})
	}
	return nil
}

// rawToken is an operator token for the reference's interceptor chain,
// signed with its key, b.key.
func (b *bencher) rawToken() (string, error) {
	key, err := auth.LoadKey(b.key)
	if err != nil {
		return "", err
	}
	s, err := auth.NewSigner(key)
	if err != nil {
		return "", err
	}
	return s.OperatorToken(2 * time.Hour)
}

func (b *bencher) component(system, name string, pid int, idle int64, db string) benchComponent {
	c := benchComponent{System: system, Name: name, PID: pid}
	if idle > 0 {
		v := float64(idle) / (1 << 20)
		c.RSSIdleMB = &v
	}
	if rss, ok := benchProcRSS(pid); ok {
		v := float64(rss) / (1 << 20)
		c.RSSAfterMB = &v
	}
	if db != "" {
		if fi, err := os.Stat(db); err == nil {
			c.DBFile, c.DBBytes = filepath.Base(db), fi.Size()
		}
	}
	return c
}

// benchSys is a selfserve system under test: four processes the bench
// started, or one given by address.
type benchSys struct {
	label     string
	dir       string
	url       string
	licensing string
	pids      map[string]int
	children  map[string]*benchChild
	idle      map[string]int64
}

// procs are the components whose CPU the loads count: all four, or none
// when some are unknown.
func (s *benchSys) procs() map[string]int {
	for _, name := range components {
		if _, ok := s.pids[name]; !ok {
			return nil
		}
	}
	return s.pids
}

// startSystem starts the four components as separate processes on dir, each
// with its own data directory and the shared key, on free loopback ports.
func (b *bencher) startSystem(ctx context.Context, label, dir string, extra ...string) (*benchSys, error) {
	ports, err := benchFreeAddrs(7)
	if err != nil {
		return nil, err
	}
	metricsAddrs := map[string]string{"licensing": ports[4], "billing": ports[5], "commerce": ports[6]}
	addrs := []string{"--licensing-addr", ports[1], "--commerce-addr", ports[2], "--billing-addr", ports[3]}
	sys := &benchSys{label: label, dir: dir, url: "http://" + ports[0], licensing: ports[1], pids: map[string]int{}, children: map[string]*benchChild{}, idle: map[string]int64{}}
	for _, name := range []string{"licensing", "billing", "commerce", "gateway"} {
		args := append([]string{name, "--http-addr", ports[0]}, addrs...)
		if name != "gateway" {
			args = append([]string{name, "--signing-key", b.key, "--data-dir", filepath.Join(dir, name), "--clock", "system"}, addrs...)
			args = append(args, extra...)
			if name != "billing" {
				args = append(args, "--seed=true")
			}
			args = append(args, "--metrics-addr", metricsAddrs[name])
		}
		c, err := startBenchChild(b.exe, label+"/"+name, args, nil)
		if err != nil {
			return nil, err
		}
		b.track(c)
		sys.children[name], sys.pids[name] = c, c.pid()
		if addr, ok := metricsAddrs[name]; ok {
			b.metricsByPID[c.pid()] = "http://" + addr + "/metrics"
		}
	}
	var all []*benchChild
	for _, c := range sys.children {
		all = append(all, c)
	}
	if err := benchWaitHTTP(ctx, sys.url+"/healthz", 60*time.Second, all...); err != nil {
		return nil, err
	}
	return sys, nil
}

// stopSystem records each component's memory and store, then stops it.
func (b *bencher) stopSystem(sys *benchSys) {
	for _, name := range components {
		pid, ok := sys.pids[name]
		if !ok {
			continue
		}
		db := ""
		if name != "gateway" && sys.dir != "" {
			db = filepath.Join(sys.dir, name, name+".db")
		}
		b.report.Components = append(b.report.Components, b.component(sys.label, name, pid, sys.idle[name], db))
	}
	for _, name := range []string{"gateway", "commerce", "billing", "licensing"} {
		if c := sys.children[name]; c != nil {
			c.stop(10 * time.Second)
		}
	}
}

// settle waits for the system to go idle, then reads each component's RSS.
func (b *bencher) settle(sys *benchSys) {
	time.Sleep(time.Second)
	for name, pid := range sys.pids {
		if rss, ok := benchProcRSS(pid); ok {
			sys.idle[name] = rss
		}
	}
}

// runMain measures the main store: pre-filled with --size subscriptions, or
// the running system of --addr.
func (b *bencher) runMain(ctx context.Context) error {
	var sys *benchSys
	if b.s.Addr != "" {
		sys = &benchSys{label: "target", url: strings.TrimRight(b.s.Addr, "/"), licensing: b.s.licensingAddr, pids: b.s.pids, idle: map[string]int64{}}
	} else {
		dir := filepath.Join(b.dir, "small")
		b.logf("pre-filling %d subscriptions", b.s.Size)
		pre, err := benchPrefill(dir, benchPrefillSpec{Subscriptions: b.s.Size}, time.Now().UTC())
		if err != nil {
			return err
		}
		pre.System = "small"
		b.report.Prefill = append(b.report.Prefill, pre)
		if sys, err = b.startSystem(ctx, "small", dir); err != nil {
			return err
		}
	}
	return b.mainLoads(ctx, sys)
}

// mainLoads measures the main loads on sys, then stops it.
func (b *bencher) mainLoads(ctx context.Context, sys *benchSys) error {
	fx, err := b.fixtures(ctx, sys)
	if err != nil {
		return fmt.Errorf("fixtures: %w", err)
	}
	b.settle(sys)
	conn, err := serve.Dial(sys.licensing)
	if err != nil {
		return err
	}
	defer conn.Close()
	lic, dir := licensingv1.NewLicensingServiceClient(conn), licensingv1.NewDirectoryServiceClient(conn)
	buyerMD := metadata.Pairs("authorization", "Bearer "+fx.buyer)
	cpu := sys.procs()
	for _, n := range b.concAll() {
		b.measure(ctx, benchLoad{name: "assign/json", system: sys.label, conc: n, requests: 2, procs: cpu,
			op: benchCycle(b.http, sys.url, fx.pool, fx.buyer, fx.users)})
	}
	for _, n := range b.concAll() {
		b.measure(ctx, benchLoad{name: "assign/grpc", system: sys.label, conc: n, requests: 2, procs: cpu,
			op: benchGRPCCycle(lic, buyerMD, fx.pool, fx.users)})
	}
	for _, n := range b.concEnds() {
		b.measure(ctx, benchLoad{name: "get-organization/json", system: sys.label, conc: n, requests: 1, procs: cpu,
			op: benchGet(b.http, sys.url+"/v1/organizations/"+benchOrg, fx.buyer)})
	}
	for _, n := range b.concEnds() {
		b.measure(ctx, benchLoad{name: "get-organization/grpc", system: sys.label, conc: n, requests: 1, procs: cpu,
			op: benchCall(func(ctx context.Context, _ *benchWorker) error {
				_, err := dir.GetOrganization(metadata.NewOutgoingContext(ctx, buyerMD), &licensingv1.GetOrganizationRequest{Name: names.Format(names.Organization, benchOrg)})
				return err
			})})
	}
	// Before the purchases, so that the list is of the pre-filled size.
	for _, n := range b.concMid() {
		b.measure(ctx, benchLoad{name: "list-subscriptions/json", system: sys.label, conc: n, requests: 1, procs: cpu,
			op: benchGet(b.http, sys.url+"/v1/organizations/"+benchOrg+"/subscriptions?pageSize=50", fx.buyer)})
	}
	for _, n := range b.concEnds() {
		b.measure(ctx, benchLoad{name: "purchase/json", system: sys.label, conc: n, requests: 1, procs: cpu,
			op: b.purchase(sys, fx, fmt.Sprintf("c%d", n))})
	}
	for _, n := range b.concMid() {
		b.measure(ctx, benchLoad{name: "list-invoices/json", system: sys.label, conc: n, requests: 1, procs: cpu,
			op: benchGet(b.http, sys.url+"/v1/"+fx.account+"/invoices?pageSize=50", fx.buyer)})
	}
	// For a system given by address this only records what is known.
	b.stopSystem(sys)
	return ctx.Err()
}

// runLarge measures the list and the assign load again on a store of
// --large-size subscriptions and --large-assignments assignments.
func (b *bencher) runLarge(ctx context.Context) error {
	dir := filepath.Join(b.dir, "large")
	b.logf("pre-filling %d subscriptions and %d assignments", b.s.LargeSize, b.s.LargeAssignments)
	pre, err := benchPrefill(dir, benchPrefillSpec{Subscriptions: b.s.LargeSize, Assignments: b.s.LargeAssignments}, time.Now().UTC())
	if err != nil {
		return err
	}
	pre.System = "large"
	b.report.Prefill = append(b.report.Prefill, pre)
	b.logf("pre-filled in %.1fs", pre.Seconds)
	sys, err := b.startSystem(ctx, "large", dir)
	if err != nil {
		return err
	}
	fx, err := b.fixtures(ctx, sys)
	if err != nil {
		return fmt.Errorf("fixtures: %w", err)
	}
	b.settle(sys)
	cpu := sys.procs()
	for _, n := range b.concMid() {
		b.measure(ctx, benchLoad{name: "list-subscriptions/json", system: sys.label, conc: n, requests: 1, procs: cpu,
			op: benchGet(b.http, sys.url+"/v1/organizations/"+benchOrg+"/subscriptions?pageSize=50", fx.buyer)})
	}
	for _, n := range b.concEnds() {
		b.measure(ctx, benchLoad{name: "assign/json", system: sys.label, conc: n, requests: 2, procs: cpu,
			op: benchCycle(b.http, sys.url, fx.pool, fx.buyer, fx.users)})
	}
	b.stopSystem(sys)
	return ctx.Err()
}

// runDev times `selfserve dev` from start to its first healthy /healthz, on
// a new data directory (seeding included) and again on restart.
func (b *bencher) runDev(ctx context.Context) error {
	dir := filepath.Join(b.dir, "dev")
	dev := &benchDev{}
	for i, d := range []*float64{&dev.FirstStartSeconds, &dev.RestartSeconds} {
		ports, err := benchFreeAddrs(4)
		if err != nil {
			return err
		}
		start := time.Now()
		c, err := startBenchChild(b.exe, "dev", []string{"dev", "--data-dir", dir, "--http-addr", ports[0], "--licensing-addr", ports[1],
			"--commerce-addr", ports[2], "--billing-addr", ports[3]}, nil)
		if err != nil {
			return err
		}
		b.track(c)
		err = benchWaitHTTP(ctx, "http://"+ports[0]+"/healthz", 30*time.Second, c)
		*d = time.Since(start).Seconds()
		c.stop(10 * time.Second)
		if err != nil {
			return err
		}
		b.logf("selfserve dev healthy in %.3fs (%s)", *d, []string{"first start", "restart"}[i])
	}
	b.report.Dev = dev
	return nil
}

// benchFixtures are what the loads act with.
type benchFixtures struct {
	op, buyer string // bearer tokens
	account   string // the buyer's billing account
	profile   string
	product   string
	pool      string   // the license pool the assign loads use
	users     []string // one assignee per caller
}

func benchUserNames(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("organizations/%s/users/bench-w%03d", benchOrg, i))
	}
	return out
}

// fixtures prepares a system over JSON, as a client would: users, the
// buyer's token, billing account and card, and a large subscription whose
// pool the assign loads use.
func (b *bencher) fixtures(ctx context.Context, sys *benchSys) (*benchFixtures, error) {
	op, err := b.signer.OperatorToken(2 * time.Hour)
	if err != nil {
		return nil, err
	}
	fx := &benchFixtures{op: op, users: benchUserNames(b.maxConc())}
	org := "/v1/" + names.Format(names.Organization, benchOrg)
	tok, err := b.call(ctx, "POST", sys.url+"/v1/"+names.Format(names.User, benchOrg, benchBuyer)+":issueToken", op, map[string]any{})
	if err != nil {
		return nil, err
	}
	fx.buyer, _ = tok["token"].(string)
	for i, name := range fx.users {
		id := name[strings.LastIndexByte(name, '/')+1:]
		_, err := b.call(ctx, "POST", sys.url+org+"/users?userId="+id, op, map[string]any{
			"displayName": fmt.Sprintf("Bench Worker %03d", i), "email": id + "@contoso.example", "userType": "MEMBER", "usageLocation": "SE"})
		var se *benchStatusError
		if err != nil && !(errors.As(err, &se) && se.code == http.StatusConflict) {
			return nil, err
		}
	}
	acct, err := b.call(ctx, "POST", sys.url+org+"/billingAccounts", fx.buyer, map[string]any{"displayName": "Bench", "soldTo": map[string]any{"countryCode": "SE"}})
	if err != nil {
		return nil, err
	}
	fx.account, _ = acct["name"].(string)
	fx.profile = fx.account + "/billingProfiles/default"
	pm, err := b.call(ctx, "POST", sys.url+"/v1/"+fx.account+"/paymentMethods", fx.buyer, map[string]any{"card": map[string]any{
		"number": "4242424242424242", "securityCode": "123", "expMonth": 12, "expYear": time.Now().Year() + 2, "holderName": "Max Holm"}})
	if err != nil {
		return nil, err
	}
	if _, err := b.call(ctx, "PATCH", sys.url+"/v1/"+fx.profile, fx.buyer, map[string]any{"paymentMethod": pm["name"]}); err != nil {
		return nil, err
	}
	products, err := b.call(ctx, "GET", sys.url+"/v1/products?pageSize=1000", fx.buyer, nil)
	if err != nil {
		return nil, err
	}
	list, _ := products["products"].([]any)
	for _, p := range list {
		m, _ := p.(map[string]any)
		clouds, _ := m["availableClouds"].([]any)
		if m["trial"] == nil && m["trialOnly"] != true && slices.Contains(clouds, any("GLOBAL")) {
			fx.product, _ = m["name"].(string)
			break
		}
	}
	if fx.product == "" {
		return nil, errors.New("no product to buy")
	}
	sub, err := b.call(ctx, "POST", sys.url+org+"/subscriptions:purchase", fx.buyer, map[string]any{"product": fx.product, "quantity": benchPoolSize,
		"billingFrequency": "MONTHLY", "billingProfile": fx.profile, "requestId": "bench-" + b.runID + "-" + sys.label + "-pool"})
	if err != nil {
		return nil, err
	}
	name, _ := sub["name"].(string)
	fx.pool = strings.Replace(name, "/subscriptions/", "/licenses/", 1)
	if fx.buyer == "" || fx.account == "" || fx.pool == "" {
		return nil, fmt.Errorf("incomplete fixtures: %+v", fx)
	}
	return fx, nil
}

// call sends one JSON request and decodes the answer.
func (b *bencher) call(ctx context.Context, method, url, token string, body any) (map[string]any, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := b.http.do(cctx, method, url, token, raw)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(resp, &out); err != nil {
		return nil, fmt.Errorf("%s %s: not JSON: %s", method, url, resp)
	}
	return out, nil
}

// purchase is the purchase load: one license, a fresh request id each time.
func (b *bencher) purchase(sys *benchSys, fx *benchFixtures, tag string) benchOp {
	url := sys.url + "/v1/organizations/" + benchOrg + "/subscriptions:purchase"
	prefix := fmt.Sprintf(`{"product":%q,"quantity":1,"billingFrequency":"MONTHLY","billingProfile":%q,"requestId":"bench-%s-%s-%s`,
		fx.product, fx.profile, b.runID, sys.label, tag)
	return func(ctx context.Context, w *benchWorker) error {
		body := fmt.Appendf(nil, `%s-%d-%d"}`, prefix, w.id, w.n)
		return w.timed(func() error { _, err := b.http.do(ctx, http.MethodPost, url, fx.buyer, body); return err })
	}
}

// rawPurchase is the purchase load's request sent to the raw chain's
// purchase shape.
func (b *bencher) rawPurchase(base, token string) benchOp {
	url := base + "/v1/organizations/" + benchOrg + "/subscriptions:purchase"
	prefix := fmt.Sprintf(`{"product":"products/raw","quantity":1,"billingFrequency":"MONTHLY","billingProfile":"billingAccounts/raw/billingProfiles/raw","requestId":"bench-%s-raw`, b.runID)
	return func(ctx context.Context, w *benchWorker) error {
		body := fmt.Appendf(nil, `%s-%d-%d"}`, prefix, w.id, w.n)
		return w.timed(func() error { _, err := b.http.do(ctx, http.MethodPost, url, token, body); return err })
	}
}

// benchGRPCCycle is the assign load over gRPC, straight to licensing.
func benchGRPCCycle(lic licensingv1.LicensingServiceClient, md metadata.MD, pool string, users []string) benchOp {
	call := func(ctx context.Context, fn func(context.Context, ...grpc.CallOption) error) error {
		cctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(ctx, md), 30*time.Second)
		defer cancel()
		return fn(cctx)
	}
	return func(ctx context.Context, w *benchWorker) error {
		u := []string{users[w.id%len(users)]}
		err := w.timed(func() error {
			return call(ctx, func(c context.Context, o ...grpc.CallOption) error {
				_, err := lic.AssignLicenses(c, &licensingv1.AssignLicensesRequest{Name: pool, Users: u}, o...)
				return err
			})
		})
		if err != nil {
			return err
		}
		return w.timed(func() error {
			return call(ctx, func(c context.Context, o ...grpc.CallOption) error {
				_, err := lic.UnassignLicenses(c, &licensingv1.UnassignLicensesRequest{Name: pool, Users: u}, o...)
				return err
			})
		})
	}
}

// benchFirstLine hands over the first line written to it.
type benchFirstLine struct {
	mu   sync.Mutex
	buf  []byte
	sent bool
	ch   chan string
}

func (l *benchFirstLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.sent {
		l.buf = append(l.buf, p...)
		if i := bytes.IndexByte(l.buf, '\n'); i >= 0 {
			l.ch <- string(l.buf[:i])
			l.sent = true
			l.buf = nil
		}
	}
	return len(p), nil
}
